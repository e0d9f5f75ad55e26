"""Lifecycle sweeps: the pure parts, and the use cases on the embedded SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from kneo import migrate
from kneo.config import Retention, Settings, load_settings
from kneo.db import make_engine, make_session_factory, transaction, utcnow
from kneo.errors import Conflict
from kneo.models import AuditEvent, Checkpoint, HumanTask, IdempotencyRecord, Run, StepRun, TraceEvent
from kneo.workflows.human import Resume, resume_task
from kneo.workflows.runs import RunRequest, cancel_run, submit_run
from kneo.workflows.sweeps import deadlines, expiry
from kneo.workflows.sweeps.retention import PRUNERS, cutoffs
from tests.support import specs

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


# ----------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("value", "policy"),
    [("fail", "fail"), ("continue", "continue"), ("escalate", "escalate"), ("bogus", "fail"), (None, "fail")],
)
def test_unknown_on_timeout_behaves_as_fail(value: object, policy: str) -> None:
    assert expiry.timeout_policy(value) == policy


def test_expiry_and_deadline_messages_follow_the_contract() -> None:
    assert expiry.expiry_message(30) == "Human task did not complete within 30s timeout."
    assert expiry.expiry_message(1.5) == "Human task did not complete within 1.5s timeout."
    assert expiry.expiry_message(None) == "Human task did not complete before its deadline."
    assert deadlines.deadline_message(5.0) == "Run exceeded its 5s timeout."


def test_run_timeout_is_the_requested_one_else_the_span_to_the_deadline() -> None:
    deadline = NOW + timedelta(seconds=90)
    assert deadlines.run_timeout_seconds({"timeout_seconds": 30}, NOW, deadline) == 30.0
    assert deadlines.run_timeout_seconds({}, NOW, deadline) == 90.0
    assert deadlines.run_timeout_seconds({"timeout_seconds": None}, None, deadline) == 0.0


def test_escalated_request_keeps_the_request_adds_the_times_and_reassigns() -> None:
    original = NOW - timedelta(seconds=1)
    request = expiry.escalated_request({"id": "r", "assignee": "a"}, NOW, original, "lead")
    assert request == {
        "id": "r",
        "assignee": "lead",
        "previous_assignee": "a",
        "escalated_at": NOW.timestamp(),
        "original_expires_at": original.timestamp(),
    }


def test_escalation_expiry_is_a_fresh_window() -> None:
    assert expiry.escalation_expiry({"timeout_seconds": 60}, NOW) == NOW + timedelta(seconds=60)
    assert expiry.escalation_expiry({"timeout_seconds": 60, "escalation_timeout_seconds": 5}, NOW) == NOW + timedelta(
        seconds=5
    )
    assert expiry.escalation_expiry({"timeout_seconds": None}, NOW) is None


def test_cutoffs_only_for_configured_windows_and_idempotency_falls_back_to_its_ttl() -> None:
    assert cutoffs(NOW, Retention(), 3600) == {"idempotency_records": NOW - timedelta(hours=1)}
    windows = Retention(runs_days=7, checkpoints_days=2, trace_days=1, audit_days=30, idempotency_days=0.5)
    assert cutoffs(NOW, windows, 3600) == {
        "runs": NOW - timedelta(days=7),
        "checkpoints": NOW - timedelta(days=2),
        "trace_events": NOW - timedelta(days=1),
        "audit_events": NOW - timedelta(days=30),
        "idempotency_records": NOW - timedelta(hours=12),
    }
    assert cutoffs(NOW, Retention(runs_days=0), 60)["runs"] == NOW


def test_sweep_interval_settings() -> None:
    defaults = load_settings({})
    assert (defaults.human_sweep_interval_seconds, defaults.deadline_sweep_interval_seconds) == (5.0, 5.0)
    assert defaults.retention_sweep_interval_seconds == 3600.0
    custom = load_settings(
        {
            "KNEO_SERV_HUMAN_SWEEP_INTERVAL_SECONDS": "1",
            "KNEO_SERV_DEADLINE_SWEEP_INTERVAL_SECONDS": "0.5",
            "KNEO_SERV_RETENTION_SWEEP_INTERVAL_SECONDS": "60",
        }
    )
    assert (custom.human_sweep_interval_seconds, custom.deadline_sweep_interval_seconds) == (1.0, 0.5)
    assert custom.retention_sweep_interval_seconds == 60.0


def test_every_sweep_is_on_the_beat_schedule() -> None:
    import celeryconfig

    tasks = {entry["task"]: entry for entry in celeryconfig.beat_schedule.values()}
    assert set(tasks) == {
        "kneo.sweep.reconcile",
        "kneo.sweep.human_expiry",
        "kneo.sweep.deadlines",
        "kneo.sweep.retention",
    }
    assert all(entry["options"]["queue"] == "kneo.sweeps" for entry in tasks.values())  # type: ignore[index]


# ----------------------------------------------------------------------------- use cases on SQLite


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"KNEO_SERV_STATE_DIR": str(tmp_path), "KNEO_SERV_ALLOWED_MODULES": "tests.support"})


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def gate_spec(on_timeout: str = "fail", timeout: int | None = 1) -> dict[str, Any]:
    human: dict[str, Any] = {"on_timeout": on_timeout, "assignee": "reviewer"}
    if timeout is not None:
        human["timeout_seconds"] = timeout
    return specs.sequential(
        [{"id": "gate", "kind": "human", "ref": "h"}, specs.function_step("up", "up")],
        functions={"up": "tests.support.functions.upper"},
        humans={"h": human},
    )


def blocked_run(
    sessions: sessionmaker[Session], settings: Settings, spec: dict[str, Any], timeout: int | None = None
) -> tuple[str, str]:
    with sessions() as session, transaction(session):
        run, _ = submit_run(
            session, RunRequest(input="hi", spec=spec, timeout_seconds=timeout), "op", settings, utcnow(), "run.created"
        )
    assert run.status == "blocked" and run.continuation_id
    return run.id, run.continuation_id


def sweep_tasks(sessions: sessionmaker[Session], now: datetime) -> list[str]:
    actions = []
    with sessions() as session, transaction(session):
        ids = expiry.due_human_tasks(session, now)
    for task_id in ids:
        with sessions() as session, transaction(session):
            outcome = expiry.expire_human_task(session, task_id, now, 300)
        actions.append(outcome.action if outcome else "skipped")
    return actions


def audit_types(sessions: sessionmaker[Session], run_id: str) -> list[str]:
    with sessions() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.run_id == run_id).order_by(AuditEvent.created_at))
        return sorted(event.event_type for event in events.scalars())


def later() -> datetime:
    return utcnow() + timedelta(seconds=5)


def test_fail_expires_once_and_a_late_resume_gets_409(sessions: sessionmaker[Session], settings: Settings) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("fail"))
    assert sweep_tasks(sessions, utcnow()) == []
    assert sweep_tasks(sessions, later()) == ["expired"]
    assert sweep_tasks(sessions, later()) == []
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert run.status == "expired" and task.status == "expired"
        assert run.error == {"message": "Human task did not complete within 1s timeout.", "type": "human_task_expired"}
    assert audit_types(sessions, run_id) == ["human.expired", "run.created"]
    with sessions() as session, pytest.raises(Conflict), transaction(session):
        resume_task(session, task_id, Resume(task.request_id, "approved"), "rev", utcnow(), 300)


def test_continue_failure_is_audited_and_fails_the_run(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("continue"))

    real = expiry.resume_task

    def broken(session: Session, *args: Any, **kwargs: Any) -> None:
        real(session, *args, **kwargs)  # writes, then fails: the savepoint must undo the writes
        session.flush()
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(expiry, "resume_task", broken)
    assert sweep_tasks(sessions, later()) == ["continue_failed"]
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert (run.status, task.status) == ("failed", "expired")
        assert run.error is not None and run.error["type"] == "human_continue_failed"
        assert session.execute(select(StepRun).where(StepRun.run_id == run_id)).first() is None
    assert audit_types(sessions, run_id) == ["human.continue_failed", "human.continued", "run.created"]


def test_continue_resumes_approved_with_the_timeout_metadata(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("continue"))
    assert sweep_tasks(sessions, later()) == ["continued"]
    with sessions() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and task.status == "resolved" and task.decision == "approved"
        assert task.decision_metadata == {"auto_continued": True, "reason": "timeout", "original_assignee": "reviewer"}
        queued = session.execute(select(StepRun.step_id).where(StepRun.run_id == run_id)).scalars().all()
        assert queued == ["up"]
    assert "human.continued" in audit_types(sessions, run_id)


def test_escalate_once_and_escalated_tasks_are_skipped(sessions: sessionmaker[Session], settings: Settings) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("escalate"))
    assert sweep_tasks(sessions, later()) == ["escalated"]
    assert sweep_tasks(sessions, later() + timedelta(days=1)) == []
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert (run.status, task.status) == ("blocked", "pending")
        assert task.escalated_at is not None and task.original_expires_at is not None
        assert task.expires_at is not None and task.expires_at > task.escalated_at
        assert task.request["escalated_at"] == task.escalated_at.timestamp()
        assert run.pending_human_request == task.request
    assert audit_types(sessions, run_id) == ["human.escalated", "run.created"]


def test_cancelled_run_task_is_never_expired(sessions: sessionmaker[Session], settings: Settings) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("fail"))
    with sessions() as session, transaction(session):
        cancel_run(session, run_id, "op", utcnow())
    assert sweep_tasks(sessions, later()) == []
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert (run.status, task.status) == ("cancelled", "cancelled")


def test_finished_run_task_is_only_closed(sessions: sessionmaker[Session], settings: Settings) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("fail"))
    with sessions() as session, transaction(session):
        session.execute(update(Run).where(Run.id == run_id).values(status="completed", error=None))
    assert sweep_tasks(sessions, later()) == ["closed"]
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert (run.status, run.error, task.status) == ("completed", None, "closed")
    assert audit_types(sessions, run_id) == ["human.closed", "run.created"]


def test_deadline_times_out_a_blocked_run_once(sessions: sessionmaker[Session], settings: Settings) -> None:
    run_id, task_id = blocked_run(sessions, settings, gate_spec("fail", timeout=None), timeout=2)
    with sessions() as session:
        assert deadlines.due_runs(session, utcnow()) == []
        assert deadlines.due_runs(session, later()) == [run_id]
    for expected in ("timed_out", None):
        with sessions() as session, transaction(session):
            outcome = deadlines.time_out_run(session, run_id, later())
        assert (outcome.action if outcome else None) == expected
    with sessions() as session:
        run, task = session.get(Run, run_id), session.get(HumanTask, task_id)
        assert run is not None and task is not None
        assert run.status == "timed_out" and task.status == "timed_out"
        assert run.error == {"message": "Run exceeded its 2s timeout.", "type": "run_timed_out"}
        checkpoint = session.execute(
            select(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.type == "run_timed_out")
        ).scalar_one()
        assert checkpoint.checkpoint_metadata["status_at_timeout"] == "blocked"
        assert set(checkpoint.checkpoint_metadata) == {"reason", "deadline_at", "timed_out_at", "status_at_timeout"}
    assert audit_types(sessions, run_id) == ["run.created", "run.timed_out"]
    assert sweep_tasks(sessions, later()) == []


def test_retention_deletes_terminal_and_old_only_in_batches(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    done = [blocked_run(sessions, settings, gate_spec("fail"))[0] for _ in range(3)]
    active, _ = blocked_run(sessions, settings, gate_spec("fail"))
    old = utcnow() - timedelta(days=10)
    with sessions() as session, transaction(session):
        session.execute(update(Run).where(Run.id.in_(done)).values(status="expired"))
        session.execute(update(Run).values(updated_at=old))
        session.execute(update(Checkpoint).values(created_at=old))
        session.execute(update(TraceEvent).values(timestamp=old))
        session.execute(update(AuditEvent).values(created_at=old))
        session.add(IdempotencyRecord(scope="s", principal="p", key="k", request_hash="h", state="completed",
                                      created_at=old, updated_at=old))  # fmt: skip
    cut = utcnow() - timedelta(days=1)
    with sessions() as session, transaction(session):
        pruned = PRUNERS["runs"](session, cut, 2)
        assert pruned["runs"] == 2 and pruned["audit_events"] == 2, "a run's audit events go with it"
    with sessions() as session, transaction(session):
        assert PRUNERS["runs"](session, cut, 2)["runs"] == 1
    for name in ("checkpoints", "trace_events"):
        with sessions() as session, transaction(session):
            assert PRUNERS[name](session, cut, 500) == {name: 0}, "never of an active run"
    with sessions() as session, transaction(session):
        assert PRUNERS["audit_events"](session, cut, 500)["audit_events"] == 1, "the kept run's own event"
        assert PRUNERS["idempotency_records"](session, cut, 500) == {"idempotency_records": 1}
    with sessions() as session:
        assert session.execute(select(Run.id)).scalars().all() == [active]
        for model in (Checkpoint, TraceEvent, HumanTask):
            rows = session.execute(select(model.run_id, func.count()).group_by(model.run_id)).all()  # type: ignore[attr-defined]
            assert [row[0] for row in rows] == [active]
