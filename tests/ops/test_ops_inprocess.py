"""In-process checks of the observability and maintenance helpers (no servers needed)."""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path

import pytest
from flask import Flask

from kneo import maintenance
from kneo.config import load_settings
from kneo.observability import settings as obs
from kneo.web import create_app


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("KNEO_SERV_METRICS_TOKEN", raising=False)
    return create_app(load_settings({"KNEO_SERV_STATE_DIR": str(tmp_path / "state")}))


def test_metrics_endpoint_serves_database_gauges(app: Flask) -> None:
    client = app.test_client()
    client.get("/healthz")
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    text = answer.get_data(as_text=True)
    assert 'kneo_runs{status="completed"} 0.0' in text
    assert "kneo_queue_depth 0.0" in text and "kneo_human_tasks_open 0.0" in text
    assert 'kneo_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_metrics_token(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEO_SERV_METRICS_TOKEN", "scrape-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).status_code == 200


def test_metrics_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEO_SERV_METRICS_ENABLED", "false")
    app = create_app(load_settings({"KNEO_SERV_STATE_DIR": str(tmp_path)}))
    assert app.test_client().get("/metrics").status_code == 404


def test_exporter_choice() -> None:
    assert obs.exporter_choice({}) == "otlp"
    assert obs.exporter_choice({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    assert (
        obs.exporter_choice({"KNEO_SERV_OTEL_EXPORTER": "file:/tmp/x", "OTEL_TRACES_EXPORTER": "otlp"}) == "file:/tmp/x"
    )
    assert not obs.record_arguments({}) and not obs.record_results({})
    assert obs.record_arguments({"KNEO_SERV_OTEL_RECORD_ARGUMENTS": "true"})


def _database(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as connection:
        for table in maintenance.REQUIRED_TABLES:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT)")
        connection.executemany("INSERT INTO runs VALUES (?)", [(str(i),) for i in range(rows)])
    connection.close()


def test_sqlite_restore_is_refused_while_the_state_dir_is_locked(tmp_path: Path) -> None:
    live, backup = tmp_path / "state" / "kneo_runs.sqlite", tmp_path / "backup.sqlite"
    live.parent.mkdir()
    _database(live, 3)
    assert maintenance.backup_sqlite(live, backup)["bytes_copied"] > 0
    _database(live, 2)  # 5 rows now
    with open(live.parent / "kneo.lock", "wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what `kneo serve` holds while it runs
        with pytest.raises(maintenance.MaintenanceError, match="the platform is running"):
            maintenance.restore_sqlite(backup, live)
    wal = Path(f"{live}-wal")
    wal.write_bytes(b"x" * 32)
    with pytest.raises(maintenance.MaintenanceError, match="still has the database open"):
        maintenance.restore_sqlite(backup, live)
    maintenance.restore_sqlite(backup, live, force=True)
    assert not wal.exists()
    with sqlite3.connect(live) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    connection.close()


def test_libpq_url() -> None:
    assert maintenance.libpq_url("postgresql+psycopg2://u@h/db") == "postgresql://u@h/db"
    assert maintenance.libpq_url("postgres://u@h/db") == "postgresql://u@h/db"
