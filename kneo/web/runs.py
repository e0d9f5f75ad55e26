"""Run routes (contract §1.3-§1.7)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from flask import Response, g
from flask.views import MethodView

from kneo.db import transaction, utcnow
from kneo.errors import BadRequest
from kneo.models import Run, RunStatus
from kneo.tasks.dispatch import after_commit
from kneo.web.auth import current_principal, require_scope
from kneo.web.extensions import Blueprint
from kneo.web.idempotency import idempotent
from kneo.web.request_scope import db, notifier, read_engine, settings
from kneo.web.responses import json_response
from kneo.web.schemas import (
    CheckpointQuerySchema,
    DiffQuerySchema,
    RunCreateSchema,
    RunListQuerySchema,
    TraceQuerySchema,
)
from kneo.web.schemas.run_views import (
    CheckpointDiffResponseSchema,
    CheckpointListResponseSchema,
    RunRecoveryResponseSchema,
    RunReplayResponseSchema,
    TraceResponseSchema,
)
from kneo.web.schemas.runs import RunCreateResponseSchema, RunListResponseSchema, RunStatusResponseSchema
from kneo.web.schemas.specs import SpecPolicyReportResponseSchema
from kneo.workflows import documents, queries, replay
from kneo.workflows.answers import create_response
from kneo.workflows.runs import RunRequest, cancel_run, continue_run, get_run, submit_run
from kneo.workflows.serialize import (
    checkpoint_view,
    redacted_messages,
    run_metadata,
    run_status_view,
    spec_fields,
    trace_event_view,
)
from kneo.workflows.spec_tools import run_policy_report
from kneo.workflows.transitions import Transition

blp = Blueprint("runs", __name__, description="Runs: create, inspect, cancel, continue.")


def run_request(body: dict[str, Any]) -> RunRequest:
    if body.get("spec") is None and not body.get("spec_path"):
        raise BadRequest("Either spec_path or spec must be provided.", code="ValueError")
    return RunRequest(
        input=body["input"],
        spec=body.get("spec"),
        spec_path=body.get("spec_path"),
        target=body.get("target", "workflow"),
        environment=body.get("environment"),
        overlays=tuple(body.get("overlays") or ()),
        overrides=body.get("overrides") or {},
        async_mode=bool(body.get("async_mode")),
        metadata=body.get("metadata") or {},
        timeout_seconds=body.get("timeout_seconds"),
        session_id=body.get("session_id"),
    )


FALLBACK_CHECKS = (1.0, 2.0, 4.0)  # seconds between database re-checks, then every last one


def wait_until_settled(run_id: str, event: threading.Event, timeout: float) -> None:
    """Wait for the run to be terminal or blocked: woken by its notification (``event``, registered
    before the run was dispatched); the database is re-checked only now and then, in case a
    notification was lost."""
    deadline = time.monotonic() + timeout
    for check in itertools.count():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if event.wait(min(remaining, FALLBACK_CHECKS[min(check, len(FALLBACK_CHECKS) - 1)])):
            return
        session = db()
        session.expire_all()
        status = session.query(Run.status).filter(Run.id == run_id).scalar()
        session.rollback()
        if status in RunStatus.SETTLED:
            return


def start_run(body: dict[str, Any], audit_type: str, force_sync: bool = False) -> tuple[dict[str, Any], int]:
    """Create, dispatch and (for sync runs) wait; shared by POST /runs and POST /specs/run."""
    request = run_request(body)
    async_mode = request.async_mode and not force_sync
    session = db()
    with transaction(session):
        run, transition = submit_run(session, request, current_principal().name, settings(), utcnow(), audit_type)
    return finish_transition(run, transition, async_mode), 202 if async_mode else 200


def finish_transition(run: Run, transition: Transition, async_mode: bool) -> dict[str, Any]:
    """Dispatch after commit; wait for sync answers; build the create response."""
    g.kneo_run_id = run.id
    if async_mode or run.status in RunStatus.SETTLED:
        after_commit(transition, notifier())
        return create_response(run, async_mode)
    event = notifier().register(run.id)  # before dispatch, so no notification can come first
    try:
        after_commit(transition, notifier())
        wait_until_settled(run.id, event, settings().client_timeout)
    finally:
        notifier().unregister(run.id, event)
    session = db()
    session.expire_all()
    run = get_run(session, run.id, with_spec=False)  # a synchronous answer does not show the spec
    session.rollback()
    return create_response(run, async_mode)


@blp.route("/runs")
class Runs(MethodView):
    @require_scope("runs:read")
    @blp.arguments(RunListQuerySchema, location="query")
    @blp.response(200, RunListResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """List runs (filter by status; sort and paginate in SQL)."""
        page = queries.Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        session = db()
        ids, total = queries.list_run_ids(session, query, page)
        items = documents.list_items(session, ids)
        return Response(documents.list_body("runs", items, page.meta(len(items), total)), mimetype="application/json")

    @require_scope("runs:write")
    @blp.arguments(RunCreateSchema)
    @blp.response(200, RunCreateResponseSchema)
    @blp.alt_response(
        202, schema=RunCreateResponseSchema, description="Accepted: an async run was queued (`async_mode: true`)."
    )
    def post(self, body: dict[str, Any]) -> Response:
        """Create a run (sync waits until completed or blocked; async returns at once)."""
        return idempotent("runs:create", body, lambda: start_run(body, "run.created"))


@blp.route("/runs/<run_id>")
class RunItem(MethodView):
    @require_scope("runs:read")
    @blp.response(200, RunStatusResponseSchema)
    def get(self, run_id: str) -> Response:
        """One run's status (a settled run's stored document as it is)."""
        document = queries.run_document(read_engine(), run_id)
        if document is not None:
            return Response(document, mimetype="application/json")
        return json_response(run_status_view(get_run(db(), run_id)))


@blp.route("/runs/<run_id>/cancel")
class RunCancel(MethodView):
    @require_scope("runs:write")
    @blp.response(200, RunStatusResponseSchema)
    def post(self, run_id: str) -> Response:
        """Cancel a run; a terminal run is returned unchanged."""
        session = db()
        with transaction(session):
            run, _changed = cancel_run(session, run_id, current_principal().name, utcnow())
        notifier().publish(run.id)
        return json_response(run_status_view(run))


@blp.route("/runs/<run_id>/continue")
class RunContinue(MethodView):
    @require_scope("runs:write")
    @blp.response(200, RunCreateResponseSchema)
    def post(self, run_id: str) -> Response:
        """Continue a failed sequential run from its last completed step."""
        session = db()
        with transaction(session):
            run, transition = continue_run(session, run_id, current_principal().name, settings(), utcnow())
        return json_response(finish_transition(run, transition, async_mode=False))


@blp.route("/runs/<run_id>/trace")
class RunTrace(MethodView):
    @require_scope("runs:read")
    @blp.arguments(TraceQuerySchema, location="query")
    @blp.response(200, TraceResponseSchema)
    def get(self, query: dict[str, Any], run_id: str) -> Response:
        """The run's trace events."""
        session = db()
        get_run(session, run_id)
        page = queries.Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        events, total = queries.list_trace(session, run_id, query.get("event_type"), page)
        items = [trace_event_view(e) for e in events]
        meta = {**page.meta(len(items), total), "dropped": 0, "complete": True}
        return json_response({"run_id": run_id, "events": items, **meta})


@blp.route("/runs/<run_id>/checkpoints")
class RunCheckpoints(MethodView):
    @require_scope("runs:read")
    @blp.arguments(CheckpointQuerySchema, location="query")
    @blp.response(200, CheckpointListResponseSchema)
    def get(self, query: dict[str, Any], run_id: str) -> Response:
        """The run's checkpoints (404 for an unknown run)."""
        session = db()
        run = get_run(session, run_id)
        messages = redacted_messages(run)
        page = queries.Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        cps, total = queries.list_checkpoints(session, run_id, query.get("type"), page)
        shown = spec_fields(run.spec, run_metadata(run, with_spec=False)["overlays"])
        items = [checkpoint_view(c, shown, messages) for c in cps]
        return json_response({"run_id": run_id, "checkpoints": items, **page.meta(len(items), total)})


@blp.route("/runs/<run_id>/checkpoints/diff")
class RunCheckpointDiff(MethodView):
    @require_scope("runs:read")
    @blp.arguments(DiffQuerySchema, location="query")
    @blp.response(200, CheckpointDiffResponseSchema)
    def get(self, query: dict[str, Any], run_id: str) -> Response:
        """Differences between two checkpoints (default: the last two)."""
        session = db()
        run = get_run(session, run_id)
        diff = replay.checkpoint_diff(session, run, query.get("from_sequence"), query.get("to_sequence"))
        return json_response(diff, redacted=True)


@blp.route("/runs/<run_id>/replay")
class RunReplay(MethodView):
    @require_scope("runs:read")
    @blp.response(200, RunReplayResponseSchema)
    def get(self, run_id: str) -> Response:
        """The run's checkpoint timeline and replay context."""
        session = db()
        return json_response(replay.replay_view(session, get_run(session, run_id)), redacted=True)


@blp.route("/runs/<run_id>/recovery")
class RunRecovery(MethodView):
    @require_scope("runs:read")
    @blp.response(200, RunRecoveryResponseSchema)
    def get(self, run_id: str) -> Response:
        """What recovery would start from."""
        session = db()
        return json_response(replay.recovery_view(session, get_run(session, run_id)), redacted=True)


@blp.route("/runs/<run_id>/policy-report")
class RunPolicyReport(MethodView):
    @require_scope("specs:read")
    @blp.response(200, SpecPolicyReportResponseSchema)
    def get(self, run_id: str) -> Response:
        """The policy report of the spec the run was created from."""
        session = db(write=True)
        with transaction(session):
            result = run_policy_report(session, run_id, current_principal().name, settings())
        return json_response(result)
