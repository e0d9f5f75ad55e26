"""Scrubbing a step's outcome before it is stored anywhere (step_runs, run messages, trace, checkpoints).

Configured secret values are replaced verbatim in outputs, messages and events (data that flows
on keeps everything else); errors are fully redacted (they are diagnostics, never data). Lone
surrogates, which no database text can hold, become U+FFFD everywhere.
"""

from __future__ import annotations

from kneo.execution import StepOutcome
from kneo.redaction import redact, scrub_secrets, storable


def secure_outcome(outcome: StepOutcome) -> StepOutcome:
    outcome.output_text = storable(scrub_secrets(outcome.output_text))
    outcome.error = storable(redact(outcome.error)) if outcome.error is not None else None
    outcome.messages = storable(scrub_secrets(outcome.messages))
    outcome.events = storable(scrub_secrets(outcome.events))
    return outcome
