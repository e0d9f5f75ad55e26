"""Idempotency records as use cases: reserve once, replay the stored answer, refuse another payload,
wait while a request holds the key, take over a lapsed lease."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kneo import migrate
from kneo.config import Settings, load_settings
from kneo.db import make_engine, make_session_factory, transaction
from kneo.errors import Conflict
from kneo.workflows import idempotency
from kneo.workflows.idempotency import Replay, request_hash

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = ("runs:create", "alice", "key-1")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"KNEO_SERV_STATE_DIR": str(tmp_path), "KNEO_SERV_IDEMPOTENCY_LEASE_SECONDS": "30"})


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def reserve(
    sessions: sessionmaker[Session], settings: Settings, payload: object, now: datetime
) -> datetime | Replay | None:
    with sessions() as session, transaction(session):
        return idempotency.try_reserve(session, KEY, request_hash(payload), now, settings)


def test_the_first_request_reserves_and_a_retry_replays_its_answer(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    lease = reserve(sessions, settings, {"input": "x"}, NOW)
    assert isinstance(lease, datetime) and lease == NOW + timedelta(seconds=30)
    assert reserve(sessions, settings, {"input": "x"}, NOW) is None, "in flight: the retry waits"
    with sessions() as session, transaction(session):
        idempotency.complete(session, KEY, lease, {"run_id": "r1"}, 202, NOW)
    assert reserve(sessions, settings, {"input": "x"}, NOW) == Replay({"run_id": "r1"}, 202)


def test_another_payload_under_the_same_key_is_a_conflict(sessions: sessionmaker[Session], settings: Settings) -> None:
    reserve(sessions, settings, {"input": "x"}, NOW)
    with pytest.raises(Conflict) as refused:
        reserve(sessions, settings, {"input": "y"}, NOW)
    assert refused.value.code == "idempotency_key_conflict"


def test_a_lapsed_lease_is_taken_over_and_the_old_owner_can_no_longer_complete(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    first = reserve(sessions, settings, {"input": "x"}, NOW)
    assert isinstance(first, datetime)
    later = NOW + timedelta(seconds=31)
    second = reserve(sessions, settings, {"input": "x"}, later)
    assert second == later + timedelta(seconds=30)
    with sessions() as session, transaction(session):
        idempotency.complete(session, KEY, first, {"run_id": "stale"}, 200, later)
    assert reserve(sessions, settings, {"input": "x"}, later) is None, "the stale owner stored nothing"


def test_a_released_reservation_frees_the_key(sessions: sessionmaker[Session], settings: Settings) -> None:
    lease = reserve(sessions, settings, {"input": "x"}, NOW)
    assert isinstance(lease, datetime)
    with sessions() as session, transaction(session):
        idempotency.release(session, KEY, lease)
    assert reserve(sessions, settings, {"input": "y"}, NOW) == NOW + timedelta(seconds=30)
