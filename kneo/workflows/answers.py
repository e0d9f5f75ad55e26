"""What the API answers when a run is created, resumed or continued (the RunCreateResponse shape)."""

from __future__ import annotations

from typing import Any

from kneo.db import utcnow
from kneo.models import Run, RunStatus
from kneo.workflows import results
from kneo.workflows.serialize import run_metadata, settled_trace


def result_metadata(run: Run) -> dict[str, Any]:
    """The run-result metadata of a synchronous answer: what the settling transition stored, or
    (a run still running when the wait ended) the same keys as they stand now."""
    stored = run.run_metadata or {}
    if "sdk" in stored:
        return {key: stored[key] for key in results.RESULT_KEYS if key in stored} | {"trace": settled_trace(stored)}
    return results.result_metadata(run, run.plan, None, utcnow())


def create_response(run: Run, async_mode: bool) -> dict[str, Any]:
    """The RunCreateResponse shape."""
    blocked = run.status == RunStatus.BLOCKED
    return {
        "run_id": run.id,
        "status": run.status,
        "output_text": None if async_mode else run.output_text,
        "human_intervention_required": blocked and not async_mode,
        "continuation_id": run.continuation_id if blocked and not async_mode else None,
        "metadata": run_metadata(run) if async_mode else result_metadata(run),
        "error": run.error,
    }
