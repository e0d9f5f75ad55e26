"""Human-task routes (contract §1.9)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from kneo.db import transaction, utcnow
from kneo.errors import Gone, NotFound
from kneo.models import HumanTask
from kneo.web.auth import current_principal, require_scope
from kneo.web.extensions import Blueprint
from kneo.web.idempotency import idempotent
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.runs import finish_transition
from kneo.web.schemas import HumanResumeSchema, HumanTaskQuerySchema
from kneo.web.schemas.human import HumanTaskListResponseSchema, HumanTaskResponseSchema
from kneo.web.schemas.runs import HumanResumeResponseSchema
from kneo.workflows import queries
from kneo.workflows.answers import result_metadata
from kneo.workflows.human import Resume, resume_task
from kneo.workflows.runs import get_run
from kneo.workflows.serialize import human_task_view, reviewer_view

blp = Blueprint("human", __name__, description="Human tasks: list, inspect, resume.")


@blp.route("/human-tasks")
class HumanTasks(MethodView):
    @require_scope("human:read")
    @blp.arguments(HumanTaskQuerySchema, location="query")
    @blp.response(200, HumanTaskListResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """List human tasks: open ones by default (``pending``, which includes ``escalated``);
        ``status`` picks another status or ``all``; filter by run, workflow kind, escalation."""
        page = queries.Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        tasks, total = queries.list_human_tasks(db(), query, page)
        items = [human_task_view(t) for t in tasks]
        return json_response(reviewer_view({"tasks": items, **page.meta(len(items), total)}), redacted=True)


@blp.route("/human-tasks/<continuation_id>")
class HumanTaskItem(MethodView):
    @require_scope("human:read")
    @blp.response(200, HumanTaskResponseSchema)
    def get(self, continuation_id: str) -> Response:
        """One task's pending request (null once resolved)."""
        task = db().get(HumanTask, continuation_id)
        if task is None:
            raise NotFound(f"'Unknown continuation: {continuation_id}'", code="KeyError")
        if task.status != "pending":
            raise Gone(
                f"Human task {task.id} is {task.status}; it no longer waits for a decision.",
                code="human_task_closed",
                status=task.status,
                run_id=task.run_id,
            )
        view = human_task_view(task)
        body = {"continuation_id": task.id, "request": task.request, "messages": view["messages"], "task": view}
        return json_response(reviewer_view(body), redacted=True)


def resume_continuation(continuation_id: str, body: dict[str, Any], wait: bool = True) -> tuple[dict[str, Any], int]:
    """Resume the task with the decision in ``body``; ``wait`` for the run to settle before answering."""
    session = db()
    resume = Resume(
        request_id=body["request_id"],
        decision=body["decision"],
        content=body.get("content"),
        selected_option=body.get("selected_option"),
        metadata=body.get("metadata") or {},
    )
    with transaction(session):
        task, transition = resume_task(
            session, continuation_id, resume, current_principal().name, utcnow(), settings().step_timeout_seconds
        )
        run = get_run(session, task.run_id)
    created = finish_transition(run, transition, async_mode=not wait)
    run = get_run(db(), task.run_id)
    metadata = {**result_metadata(run), "resumed_from_continuation_id": continuation_id}
    return {
        "run_id": run.id,
        "status": created["status"],
        "output_text": created["output_text"],
        "continuation_id": created["continuation_id"],
        "human_intervention_required": created["human_intervention_required"],
        "metadata": metadata,
    }, 200


@blp.route("/human-tasks/<continuation_id>/resume")
class HumanTaskResume(MethodView):
    @require_scope("human:write")
    @blp.arguments(HumanResumeSchema)
    @blp.response(200, HumanResumeResponseSchema)
    def post(self, body: dict[str, Any], continuation_id: str) -> Response:
        """Resume the paused step with a decision; exactly one resume wins."""
        payload = {"continuation_id": continuation_id, "request": body}
        return idempotent("human:resume", payload, lambda: resume_continuation(continuation_id, body))
