"""Run pages: the filtered list, one run's detail (steps, trace, checkpoints, audit, picture), actions."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for

from kneo.audit.record import audit_event_view
from kneo.db import transaction, utcnow
from kneo.errors import KneoError
from kneo.models import RunStatus
from kneo.redaction import redact
from kneo.tasks.dispatch import after_commit
from kneo.web.console.blueprint import bp
from kneo.web.console.picture import graph_svg
from kneo.web.console.session import console_principal, page
from kneo.web.request_scope import db, notifier, settings
from kneo.workflows import queries, replay
from kneo.workflows.kinds.layout import run_graph
from kneo.workflows.runs import cancel_run, continue_run, get_run
from kneo.workflows.serialize import checkpoint_summary, run_state, run_status_view, trace_event_view

PAGE_SIZE = 25
STATUSES = (RunStatus.RUNNING, RunStatus.BLOCKED, *sorted(RunStatus.TERMINAL))
MOVING = frozenset({RunStatus.RUNNING})


class FilterError(ValueError):
    """A filter the person typed cannot be used; shown beside the form."""


def _date(name: str, end_of_day: bool = False) -> str | None:
    """A date (or date and time) from the filter form as the ISO timestamp ``list_runs`` takes."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise FilterError(f"{name.replace('_', ' ')} must be a date such as 2026-12-01.") from None
    if len(raw) == 10 and end_of_day:
        value = datetime.combine(value.date(), time.max)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _list_arguments() -> tuple[dict[str, Any], dict[str, Any], queries.Page]:
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise FilterError(f"status must be one of: {', '.join(STATUSES)}.")
    sort_by = args.get("sort_by") or "created_at"
    if sort_by not in queries.RUN_SORT:
        raise FilterError(f"sort by must be one of: {', '.join(sorted(queries.RUN_SORT))}.")
    sort_order = "asc" if args.get("sort_order") == "asc" else "desc"
    try:
        offset = max(0, min(int(args.get("offset") or 0), 10_000))
    except ValueError:
        raise FilterError("offset must be a whole number.") from None
    workflow = (args.get("workflow") or "").strip() or None
    filters = {
        "status": status,
        "workflow_name": workflow,
        "created_after": _date("created_after"),
        "created_before": _date("created_before", end_of_day=True),
    }
    form = {"status": status, "workflow": workflow, "sort_by": sort_by, "sort_order": sort_order}
    form.update(created_after=args.get("created_after", ""), created_before=args.get("created_before", ""))
    return form, filters, queries.Page(PAGE_SIZE, offset, sort_by, sort_order)


@bp.get("/runs")
@page("runs:read")
def runs() -> tuple[str, int] | str:
    try:
        form, filters, paging = _list_arguments()
    except FilterError as exc:
        page = render_template(
            "console/runs.html", runs=[], total=0, form=request.args, page=None, error=str(exc), statuses=STATUSES
        )
        return page, 422
    found, total = queries.list_runs(db(), filters, paging)
    items = [redact(run_state(r, with_spec=False)) for r in found]
    moving = any(item["status"] in MOVING for item in items)
    return render_template(
        "console/runs.html",
        runs=items,
        total=total,
        form=form,
        page=paging,
        error=None,
        refresh=moving,
        statuses=STATUSES,
    )


@bp.get("/runs/<run_id>")
@page("runs:read")
def run_detail(run_id: str) -> str:
    session = db()
    run = get_run(session, run_id)
    view = redact(run_status_view(run))
    steps = [_step_view(s) for s in queries.list_step_runs(session, run_id)]
    trace, _ = queries.list_trace(session, run_id, None, queries.Page(500, 0, "sequence", "asc"))
    checkpoints, _ = queries.list_checkpoints(session, run_id, None, queries.Page(500, 0, "sequence", "asc"))
    audit, _ = queries.list_audit(session, {"run_id": run_id}, queries.Page(200, 0, "created_at", "asc"))
    graph = run_graph(run.plan, {**run_state(run, with_spec=False), "engine_state": run.engine_state})
    return render_template(
        "console/run.html",
        run=view,
        timestamps=redact(run_state(run, with_spec=False)),
        steps=steps,
        trace=redact([trace_event_view(e) for e in trace]),
        checkpoints=[checkpoint_summary(c) for c in checkpoints],
        diff=_diff(run, len(checkpoints)),
        audit=[audit_event_view(e) for e in audit],
        picture=graph_svg(graph),
        refresh=run.status in MOVING,
        can_cancel=run.status not in RunStatus.TERMINAL,
        can_continue=run.status == RunStatus.FAILED,
    )


def _diff(run: Any, count: int) -> dict[str, Any] | None:
    """The checkpoint diff the person asked for (``from``/``to`` sequences), if any."""
    if count < 2 or "from" not in request.args:
        return None
    try:
        start, end = int(request.args["from"]), int(request.args.get("to") or 0) or None
    except ValueError:
        return {"error": "Checkpoint sequences are whole numbers."}
    try:
        return redact(replay.checkpoint_diff(db(), run, start, end))
    except KneoError as exc:
        return {"error": exc.message}


def _step_view(step: Any) -> dict[str, Any]:
    started, finished = step.started_at, step.finished_at
    duration = round((finished - started).total_seconds() * 1000, 1) if started and finished else None
    return redact(
        {
            "step_id": step.step_id,
            "kind": step.kind,
            "ref": step.ref,
            "status": step.status,
            "attempt": step.attempt,
            "max_attempts": step.max_attempts,
            "worker_id": step.worker_id,
            "started_at": started,
            "finished_at": finished,
            "duration_ms": duration,
            "error": step.error,
        }
    )


@bp.post("/runs/<run_id>/cancel")
@page("runs:write")
def cancel(run_id: str) -> Response:
    session = db()
    with transaction(session):
        run, changed = cancel_run(session, run_id, _actor(), utcnow())
    notifier().publish(run.id)
    flash("Run cancelled." if changed else f"The run was already {run.status}.", "ok" if changed else "info")
    return redirect(url_for("console.run_detail", run_id=run_id))  # type: ignore[return-value]


@bp.post("/runs/<run_id>/continue")
@page("runs:write")
def continue_(run_id: str) -> Response:
    session = db()
    try:
        with transaction(session):
            run, transition = continue_run(session, run_id, _actor(), settings(), utcnow())
    except KneoError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.run_detail", run_id=run_id))  # type: ignore[return-value]
    after_commit(transition, notifier())
    flash("Run continued from its last completed step.", "ok")
    return redirect(url_for("console.run_detail", run_id=run.id))  # type: ignore[return-value]


def _actor() -> str:
    principal = console_principal()
    if principal is None:
        abort(401)
    return principal.name
