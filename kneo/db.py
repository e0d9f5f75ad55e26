"""Engine and session factories, the transaction helper and time helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from kneo.config import Settings


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO-8601 with microseconds and ``+00:00``, as the contract prints timestamps."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def epoch(value: datetime | None) -> float | None:
    """Unix epoch seconds (the contract's float fields)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def json_serializer(value: Any) -> str:
    """JSON for JSON/JSONB columns (orjson; the standard library for what orjson refuses, such as
    integers beyond 64 bits); NUL characters (refused by PostgreSQL) become U+FFFD."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = json.dumps(value, ensure_ascii=False)
    return text.replace("\\u0000", "\\ufffd")


def json_deserializer(text: str | bytes) -> Any:
    """Values of JSON/JSONB columns (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    """Create the engine for the configured database (PostgreSQL or embedded SQLite)."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        Path(settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_serializer,
            json_deserializer=json_deserializer,
            **overrides,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _disable_pysqlite_transactions)
        # One writer at a time: take the write lock at BEGIN instead of failing on upgrade.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options: dict[str, Any] = {
        "pool_pre_ping": False,
        "pool_size": 10,
        "max_overflow": 20,
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": 5},
        "json_serializer": json_serializer,
        "json_deserializer": json_deserializer,
    }
    options.update(overrides)
    return create_engine(url, **options)


def _disable_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


def is_sqlite(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "sqlite"


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit on success, roll back on any exception (the only place that commits)."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
