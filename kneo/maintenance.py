"""Backup and recovery: SQLite online backup and safe restore, PostgreSQL data-only dump and restore.

- ``backup_sqlite`` copies a live database with SQLite's online backup API (consistent while the
  platform writes), into a temporary file renamed into place.
- ``restore_sqlite`` refuses while a platform process holds the database (the embedded server's
  state-directory lock, or a write-ahead log left by an open connection), verifies the backup,
  copies it next to the target and swaps it in atomically with ``os.replace``.
- ``pg_dump`` / ``pg_restore`` move the *data* only (``pg_dump --data-only``, custom format,
  without the migration bookkeeping); the target is migrated first and must be empty, so a
  restore never mixes two schemas and always lands on the current one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

from kneo.migrate import VERSION_TABLE

REQUIRED_TABLES = ("runs", "step_runs", "checkpoints", "audit_events", "human_tasks")
MIGRATION_TABLE = VERSION_TABLE
LOCK_NAME = "kneo.lock"


class MaintenanceError(RuntimeError):
    """A backup or restore was refused or failed; the message says why."""


def backup_sqlite(source: Path | str, destination: Path | str) -> dict[str, Any]:
    """Copy the SQLite database ``source`` to ``destination`` with the online backup API."""
    source, destination = Path(source), Path(destination)
    if not source.is_file():
        raise MaintenanceError(f"no SQLite database at {source}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    writer = sqlite3.connect(partial)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
    finally:
        writer.close()
        reader.close()
    os.replace(partial, destination)
    return {"source": str(source), "destination": str(destination), "bytes_copied": destination.stat().st_size}


def verify_sqlite(path: Path | str) -> list[str]:
    """Check a backup file: integrity and the platform's tables. Returns its table names."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            status = connection.execute("PRAGMA integrity_check").fetchone()[0]
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise MaintenanceError(f"{path} is not a usable SQLite database: {exc}") from None
    if status != "ok":
        raise MaintenanceError(f"{path} failed the integrity check: {status}")
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise MaintenanceError(f"{path} is not a kneo database (missing tables: {', '.join(missing)})")
    return tables


@contextmanager
def _platform_stopped(database: Path) -> Iterator[None]:
    """Hold the state-directory lock (``kneo serve`` holds it while it runs) for the restore."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.parent / LOCK_NAME, "wb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MaintenanceError(
                f"the platform is running on {database.parent} (kneo serve holds {LOCK_NAME}); stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def restore_sqlite(backup: Path | str, destination: Path | str, *, force: bool = False) -> dict[str, Any]:
    """Replace ``destination`` with ``backup`` atomically; refused while the platform holds it."""
    backup, destination = Path(backup), Path(destination)
    if not backup.is_file():
        raise MaintenanceError(f"no backup at {backup}")
    verify_sqlite(backup)
    with _platform_stopped(destination):
        wal = destination.with_name(destination.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0 and not force:
            raise MaintenanceError(
                f"{wal} is not empty: a process still has the database open (or crashed). "
                "Stop every kneo process; --force restores anyway and discards that log."
            )
        staged = destination.with_name(destination.name + ".restoring")
        staged.unlink(missing_ok=True)
        shutil.copyfile(backup, staged)
        with sqlite3.connect(staged) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        for sidecar in _sidecars(destination):
            sidecar.unlink(missing_ok=True)
        os.replace(staged, destination)
    return {"source": str(backup), "destination": str(destination), "bytes_copied": destination.stat().st_size}


def libpq_url(url: str) -> str:
    """A URL the PostgreSQL client tools accept (no SQLAlchemy driver suffix)."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _run(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        raise MaintenanceError(f"{argv[0]} is not installed (Debian: apt-get install postgresql-client)")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MaintenanceError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def pg_dump(database_url: str, output: Path | str) -> dict[str, Any]:
    """``pg_dump --data-only`` (custom format) of every kneo table except the migration bookkeeping."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    _run(
        [
            "pg_dump",
            "--data-only",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--exclude-table-data={MIGRATION_TABLE}",
            f"--file={partial}",
            f"--dbname={libpq_url(database_url)}",
        ]
    )
    os.replace(partial, output)
    return {"destination": str(output), "bytes": output.stat().st_size}


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per kneo table (the restore drill compares these)."""
    names = [n for n in inspect(engine).get_table_names() if n != MIGRATION_TABLE]
    with engine.connect() as connection:
        return {name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()) for name in names}


def pg_restore(engine: Engine, database_url: str, dump: Path | str) -> dict[str, Any]:
    """Load a data-only dump into a migrated, empty database, in one transaction."""
    dump = Path(dump)
    if not dump.is_file():
        raise MaintenanceError(f"no dump at {dump}")
    tables = set(inspect(engine).get_table_names())
    if MIGRATION_TABLE not in tables:
        raise MaintenanceError("the target database is not migrated: run `flask --app wsgi db upgrade` first")
    occupied = {name: count for name, count in table_counts(engine).items() if count}
    if occupied:
        raise MaintenanceError(f"the target database is not empty ({occupied}); restore into a new database")
    engine.dispose()
    _run(
        [
            "pg_restore",
            "--data-only",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--dbname={libpq_url(database_url)}",
            str(dump),
        ]
    )
    return {"source": str(dump), "tables": table_counts(engine)}
