"""The human inbox: pending tasks, one task's request, and the decision forms.

A decision posted here goes through the resume route's own schema and use case, so it is
validated exactly as ``POST /human-tasks/{id}/resume`` validates it.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from kneo.errors import KneoError, NotFound
from kneo.models import HumanTask
from kneo.redaction import redact
from kneo.web.console.blueprint import bp
from kneo.web.console.session import page
from kneo.web.human import resume_continuation
from kneo.web.request_scope import db
from kneo.web.schemas import HumanResumeSchema
from kneo.workflows import queries
from kneo.workflows.serialize import human_task_view

INBOX_SIZE = 50
TASK_STATUSES = ("pending", "resolved", "expired", "cancelled")
DECISIONS_BY_TYPE = {
    "approval": ("approved", "rejected"),
    "review": ("approved", "edited", "rejected"),
    "correction": ("edited", "rejected"),
    "selection": ("selected", "rejected"),
    "freeform": ("provided", "rejected"),
}


def decisions_for(request_: dict[str, Any] | None) -> tuple[str, ...]:
    """The decisions the form offers for a request type (the resume route has the last word)."""
    kind = str((request_ or {}).get("type") or "approval")
    return DECISIONS_BY_TYPE.get(kind, DECISIONS_BY_TYPE["approval"])


@bp.get("/human")
@page("human:read")
def inbox() -> str:
    status = request.args.get("status") or "pending"
    if status not in TASK_STATUSES:
        status = "pending"
    order = "asc" if status == "pending" else "desc"
    paging = queries.Page(INBOX_SIZE, 0, "created_at", order)
    tasks, total = queries.list_human_tasks(db(), {"status": status}, paging)
    return render_template(
        "console/inbox.html",
        tasks=redact([human_task_view(t) for t in tasks]),
        total=total,
        status=status,
        statuses=TASK_STATUSES,
    )


@bp.get("/human/<continuation_id>")
@page("human:read")
def task(continuation_id: str) -> str:
    return _task_page(continuation_id, errors={}, form={})


def _task_page(continuation_id: str, errors: dict[str, Any], form: dict[str, Any], status: int = 200) -> Any:
    found = db().get(HumanTask, continuation_id)
    if found is None:
        raise NotFound(f"Unknown human task: {continuation_id}")
    view = redact(human_task_view(found))
    return render_template(
        "console/task.html",
        task=view,
        request_=view["pending_human_request"] or {},
        decisions=decisions_for(view["pending_human_request"]),
        errors=errors,
        form=form,
    ), status


@bp.post("/human/<continuation_id>/decide")
@page("human:write")
def decide(continuation_id: str) -> Any:
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    body = {
        "request_id": form.get("request_id", ""),
        "decision": form.get("decision", ""),
        "content": form.get("content") or None,
        "selected_option": form.get("selected_option") or None,
    }
    try:
        parsed = HumanResumeSchema().load(body)
    except ValidationError as exc:
        return _task_page(continuation_id, errors=_messages(exc.messages), form=form, status=422)
    try:
        answer, _status = resume_continuation(continuation_id, parsed, wait=False)
    except KneoError as exc:
        return _task_page(continuation_id, errors={"decision": [exc.message]}, form=form, status=exc.status)
    flash(f"Decision recorded: {parsed['decision']}.", "ok")
    return redirect(url_for("console.run_detail", run_id=answer["run_id"]))


def _messages(raw: Any) -> dict[str, list[str]]:
    if isinstance(raw, dict):
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in raw.items()}
    return {"decision": [str(raw)]}
