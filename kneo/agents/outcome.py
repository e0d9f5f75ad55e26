"""Scrubbing a step's outcome before it is stored anywhere (step_runs, run messages, trace, checkpoints).

Configured secret values are replaced verbatim in outputs, messages and events (data that flows
on keeps everything else); errors are fully redacted (they are diagnostics, never data).
"""

from __future__ import annotations

from kneo.redaction import redact, scrub_secrets
from kneo.workflows.steps import StepOutcome


def secure_outcome(outcome: StepOutcome) -> StepOutcome:
    outcome.output_text = scrub_secrets(outcome.output_text)
    outcome.error = redact(outcome.error) if outcome.error is not None else None
    outcome.messages = scrub_secrets(outcome.messages)
    outcome.events = scrub_secrets(outcome.events)
    return outcome
