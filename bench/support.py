"""Pieces the benchmarks share: a fresh database, a private Redis, the topology's environment, the harness."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from topology import Topology, free_port, start_private_redis  # noqa: E402

PG_ADMIN = os.environ.get("KNEO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KEYS = "svc:svc-token:service;reviewer:rev-token:reviewer"
SERVICE_KEY, REVIEWER_KEY = "svc-token", "rev-token"
DEFAULT_HARNESS = Path("/work/shared/tools/kneo_load.py")

__all__ = ["KEYS", "PG_ADMIN", "ROOT", "Topology", "free_port", "fresh_database", "private_redis"]


def admin_execute(statement: str) -> None:
    """One statement on the maintenance database, outside a transaction (CREATE/DROP DATABASE)."""
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


@contextmanager
def fresh_database(prefix: str = "kneo_bench") -> Iterator[str]:
    """A new, empty PostgreSQL database named ``<prefix>_<random>``; dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_redis(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of the benchmark's own (no other worker on the machine takes its messages)."""
    process, url = start_private_redis(workdir)
    try:
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def topology_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """This environment without KNEO_SERV_* settings, plus the database, broker and bench keys."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KNEO_SERV_")}
    env.update(
        KNEO_SERV_DATABASE_URL=database_url,
        KNEO_SERV_BROKER_URL=broker_url,
        KNEO_SERV_API_KEYS=KEYS,
        KNEO_SERV_REQUEST_LOGS="false",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def harness_path(given: str | Path | None) -> Path:
    """The kneo_load.py load harness: ``given``, else ``KNEO_LOAD_HARNESS``, else the shared tools copy."""
    path = Path(given or os.environ.get("KNEO_LOAD_HARNESS") or DEFAULT_HARNESS)
    if not path.is_file():
        raise SystemExit(f"load harness not found at {path} (give --harness or KNEO_LOAD_HARNESS)")
    return path


def harness_command(harness: Path, workload: str, base_url: str, *extra: str) -> list[str]:
    """The command line of one harness workload against ``base_url`` with the bench keys."""
    return [
        sys.executable,
        str(harness),
        workload,
        "--base-url",
        base_url,
        "--api-key",
        SERVICE_KEY,
        "--resume-api-key",
        REVIEWER_KEY,
        *extra,
    ]
