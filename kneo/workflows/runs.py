"""Run use cases: submit, cancel, continue. They take a session and never commit."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.orm import Session, undefer

from kneo import specs
from kneo.audit.record import record_audit
from kneo.config import Settings
from kneo.errors import Conflict, NotFound
from kneo.models import HumanTask, Run, RunStatus, StepRun, StepStatus, new_id
from kneo.redaction import scrub_secrets
from kneo.workflows import documents, engine, results
from kneo.workflows.bundles import signed_spec
from kneo.workflows.policies import enforce_stored_policy
from kneo.workflows.recording import add_checkpoint, attach_trace_events
from kneo.workflows.replay import replay_context
from kneo.workflows.transitions import Transition, apply_decision, lock_run


@dataclass(frozen=True)
class RunRequest:
    """A validated run-creation body."""

    input: str
    spec: Mapping[str, Any] | None = None
    spec_path: str | None = None
    target: str = "workflow"
    environment: str | None = None
    overlays: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    async_mode: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: int | None = None
    session_id: str | None = None


def compile_request(session: Session, request: RunRequest, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load, policy-check and compile the request's spec → (raw document, plan)."""
    spec = signed_spec(
        request.spec,
        spec_path=request.spec_path,
        overrides=request.overrides,
        environment=request.environment,
        settings=settings,
    )
    raw = specs.load_document(
        spec, request.spec_path, spec_root=settings.spec_root, overrides=request.overrides or None
    )
    if request.environment:
        enforce_stored_policy(session, raw, request.environment, settings)
    return raw, compiled_plan(raw, request.target, settings)


_plan_cache: OrderedDict[str, bytes] = OrderedDict()  # compiled plans as JSON (each hit gets its own copy)
_plan_cache_lock = threading.Lock()
PLAN_CACHE_SIZE = 256


def compiled_plan(raw: dict[str, Any], target: str, settings: Settings) -> dict[str, Any]:
    """Compile ``raw``; identical specs reuse an earlier compile (the compiler is pure).

    Specs with skills read files at compile time, so they are always compiled afresh.
    """
    if raw.get("skills"):
        return _compile(raw, target, settings)
    key = hashlib.sha256(
        specs.canonical_json([raw, target, list(settings.allowed_modules), settings.spec_bounds.settings()])
    ).hexdigest()
    with _plan_cache_lock:
        cached = _plan_cache.get(key)
        if cached is not None:
            _plan_cache.move_to_end(key)
            return orjson.loads(cached)
    plan = _compile(raw, target, settings)
    try:
        stored = orjson.dumps(plan)
    except TypeError:  # not plain JSON: compiled afresh every time
        return plan
    with _plan_cache_lock:
        _plan_cache[key] = stored
        while len(_plan_cache) > PLAN_CACHE_SIZE:
            _plan_cache.popitem(last=False)
    return plan


def _compile(raw: dict[str, Any], target: str, settings: Settings) -> dict[str, Any]:
    return specs.compile_document(
        raw,
        target=target,
        allowed_modules=settings.allowed_modules,
        skills=settings.skills,
        bounds=settings.spec_bounds,
    )


def submit_run(
    session: Session, request: RunRequest, actor: str, settings: Settings, now: datetime, audit_type: str
) -> tuple[Run, Transition]:
    """Create a run, its first units and the ``run_started`` checkpoint; audit the creation."""
    # No configured secret value (provider or service key) is ever stored, whatever the caller sent.
    request = dataclasses.replace(request, input=scrub_secrets(request.input), metadata=scrub_secrets(request.metadata))
    raw, plan = compile_request(session, request, settings)
    workflow = engine.workflow_of(plan)
    root_agent = plan["agents"][plan["root_agent"]]
    run = Run(
        id=new_id(),
        status=RunStatus.RUNNING,
        target=request.target,
        agent_name=root_agent["name"],
        workflow_name=workflow["name"] if workflow else None,
        workflow_kind="workflow" if workflow else "agent",
        environment=request.environment,
        session_id=request.session_id,
        input_text=request.input,
        visited_steps=[],
        visited_nodes=[],
        messages=[],
        variables={},
        plan=plan,
        spec=raw if request.spec is not None else None,
        engine_state={},
        created_by=actor,
        trace_event_count=0,
        checkpoint_count=0,
        created_at=now,
        updated_at=now,
        started_at=now,
        deadline_at=now + timedelta(seconds=request.timeout_seconds) if request.timeout_seconds else None,
        run_metadata={
            "spec_path": request.spec_path,
            "target": request.target,
            "environment": request.environment,
            "overrides": dict(request.overrides),
            "overlays": list(request.overlays),
            "timeout_seconds": request.timeout_seconds,
            "request_metadata": dict(request.metadata),
        },
    )
    session.add(run)
    session.flush()
    started = add_checkpoint(
        session,
        run,
        "run_started",
        now,
        metadata={
            "target": request.target,
            "environment": request.environment,
            "timeout_seconds": request.timeout_seconds,
            "deadline_at": run.deadline_at.timestamp() if run.deadline_at else None,
        },
    )
    transition = apply_decision(
        session, run, engine.start(plan, request.input), now, default_timeout=settings.step_timeout_seconds
    )
    if transition.unattached_events:  # the workflow's start events belong to the run's first checkpoint
        attach_trace_events(session, started, transition.unattached_events)
    session.flush()
    record_audit(
        session,
        audit_type,
        actor=actor,
        run_id=run.id,
        continuation_id=run.continuation_id,
        metadata={
            "async_mode": request.async_mode,
            "target": request.target,
            "spec_path": request.spec_path,
            "inline_spec": request.spec is not None,
            "environment": request.environment,
            "session_id": request.session_id,
            "metadata": dict(request.metadata),
        },
        now=now,
    )
    return run, transition


def cancel_run(session: Session, run_id: str, actor: str, now: datetime) -> tuple[Run, bool]:
    """Cancel a run that can still change; returns (run, changed). Terminal runs stay as they are."""
    run = lock_run(session, run_id)
    if run.status in RunStatus.TERMINAL:
        return run, False
    reason = "Run cancellation requested."
    run.status = RunStatus.CANCELLED
    run.error = {"message": reason, "type": "cancelled"}
    run.completed_at = now
    run.updated_at = now
    session.execute(
        update(StepRun)
        .where(StepRun.run_id == run.id, StepRun.status.in_(StepStatus.CLAIMABLE))
        .values(status=StepStatus.CANCELLED, finished_at=now, updated_at=now)
    )
    session.execute(
        update(HumanTask)
        .where(HumanTask.run_id == run.id, HumanTask.status == "pending")
        .values(status="cancelled", resolved_at=now, updated_at=now)
    )
    results.settle(session, run, run.plan, now)
    add_checkpoint(session, run, "run_cancelled", now, metadata={"reason": reason, "requested": True})
    record_audit(session, "run.cancelled", actor=actor, run_id=run.id, metadata={}, now=now)
    documents.store_documents(run)
    return run, True


def continue_run(
    session: Session, run_id: str, actor: str, settings: Settings, now: datetime
) -> tuple[Run, Transition]:
    """Re-enter a failed sequential workflow after its last completed step."""
    run = lock_run(session, run_id)
    context = replay_context(session, run)
    if not context["can_continue"]:
        raise Conflict(
            "Run does not have enough checkpoint context for continuation.",
            code="run_not_continuable",
            status=run.status,
        )
    index = int(context["next_step_index"])
    run.status = RunStatus.RUNNING
    run.error = None
    run.completed_at = None
    documents.drop_documents(run)
    run.run_metadata = results.without_result(run.run_metadata or {})
    run.visited_steps = list(context["completed_steps"])
    run.current_step_index = index
    add_checkpoint(session, run, "replay_context", now, metadata=context)
    decision = engine.continue_from(run.plan, run.engine_state, index, context["resume_input"])
    transition = apply_decision(session, run, decision, now, default_timeout=settings.step_timeout_seconds)
    record_audit(session, "run.continued", actor=actor, run_id=run.id, metadata={"status": run.status}, now=now)
    return run, transition


def get_run(session: Session, run_id: str, *, with_spec: bool = True) -> Run:
    """Load a run (with its inline spec unless ``with_spec`` is false) or raise the contract's 404."""
    run = session.get(Run, run_id, options=[undefer(Run.spec)] if with_spec else [])
    if run is None:
        raise NotFound(f"'Unknown run_id: {run_id}'", code="KeyError")
    return run
