"""Migrations apply at startup and through ``flask db upgrade``; a failed migration stops the web."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from kneo.config import load_settings
from kneo.web import create_app
from tests.support.services import ROOT, start_topology, topology_env


def tables(url: str) -> set[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        conn.close()


@pytest.mark.slow  # starts the installed executables in subprocesses
def test_flask_db_upgrade_creates_the_schema(database_url: str) -> None:
    env = {**topology_env(database_url, 12), "PATH": os.environ["PATH"]}
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert {
        "runs",
        "step_runs",
        "checkpoints",
        "trace_events",
        "audit_events",
        "human_tasks",
        "idempotency_records",
        "environment_policies",
        "schema_migrations",
    } <= tables(database_url)


def _conflicting_schema(url: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE runs (id integer PRIMARY KEY)")
    conn.close()


@pytest.mark.e2e
def test_failed_migration_refuses_to_serve(database_url: str, tmp_path: Path) -> None:
    _conflicting_schema(database_url)
    settings = load_settings({"KNEO_SERV_DATABASE_URL": database_url, "KNEO_SERV_AUTH_ENABLED": "false"})
    with pytest.raises(Exception, match="runs"):
        create_app(settings)
    with pytest.raises(RuntimeError, match="web exited"):
        start_topology(tmp_path, database_url, 12)
    assert "schema_migrations" not in tables(database_url)


def test_a_database_with_the_legacy_version_table_keeps_its_revision(database_url: str) -> None:
    from sqlalchemy import create_engine

    from kneo import migrate
    from tests.support.services import query

    engine = create_engine(load_settings({"KNEO_SERV_DATABASE_URL": database_url}).sqlalchemy_url)
    try:
        migrate.upgrade(engine)
        head = query(database_url, "SELECT version_num FROM schema_migrations")
        query(database_url, "ALTER TABLE schema_migrations RENAME TO alembic_version")
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert "alembic_version" not in tables(database_url)
    assert query(database_url, "SELECT version_num FROM schema_migrations") == head


def test_policies_stored_under_other_spellings_are_renamed_to_the_canonical_name(database_url: str) -> None:
    from sqlalchemy import create_engine

    from kneo import migrate

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        migrate.upgrade(engine, "0007")
        conn = psycopg2.connect(database_url)
        with conn, conn.cursor() as cursor:
            for name in ("PROD", " Staging ", "QA", "qa"):
                cursor.execute(
                    "INSERT INTO environment_policies (environment, policy, updated_at) VALUES (%s, %s, now())",
                    (name, json.dumps({"enabled": True, "note": name.strip()})),
                )
        conn.close()
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT environment, policy->>'note' FROM environment_policies ORDER BY environment")
            rows = cursor.fetchall()
    finally:
        conn.close()
    assert rows == [("QA", "QA"), ("prod", "PROD"), ("qa", "qa"), ("staging", "Staging")]
