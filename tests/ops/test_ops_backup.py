"""Backup and recovery drills through the admin commands (`flask --app wsgi backup …`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.embedded.server import EmbeddedServer
from tests.ops.test_ops_support import private_redis
from tests.support import specs
from tests.support.services import ROOT, Api, Topology, create_database, drop_database, free_port, topology_env

pytestmark = pytest.mark.e2e


def flask_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app wsgi <args>`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sqlite_online_backup_and_safe_restore(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "serve").start()
    try:
        api = Api(server.base_url)
        kept = [api.create_run(specs.echo_chain(2), f"keep {i}")["run_id"] for i in range(2)]
        backup = tmp_path / "backups" / "kneo.sqlite"
        result = flask_admin(server.env, "backup", "sqlite", str(backup))
        assert result.returncode == 0, result.stderr
        assert backup.stat().st_size > 0
        later = api.create_run(specs.echo_chain(1), "after the backup")["run_id"]
        refused = flask_admin(server.env, "backup", "restore-sqlite", str(backup))
        assert refused.returncode == 1
        assert "the platform is running" in refused.stderr
    finally:
        assert server.stop() == 0
    assert not Path(f"{server.sqlite_path}-wal").exists() or Path(f"{server.sqlite_path}-wal").stat().st_size == 0
    not_a_backup = tmp_path / "junk.sqlite"
    not_a_backup.write_bytes(b"not sqlite at all" * 100)
    assert flask_admin(server.env, "backup", "restore-sqlite", str(not_a_backup)).returncode == 1
    restored = flask_admin(server.env, "backup", "restore-sqlite", str(backup))
    assert restored.returncode == 0, restored.stderr
    server.start()
    try:
        api = Api(server.base_url)
        ids = {run["id"] for run in api.call("GET", "/v1/runs?limit=100").json()["runs"]}
        assert ids == set(kept) and later not in ids
        assert api.create_run(specs.echo_chain(1), "after the restore")["status"] == "completed"
    finally:
        server.stop()


def snapshot(api: Api) -> dict[str, Any]:
    """What the drill compares: runs, their checkpoints, audit events, policies, pending tasks."""
    runs = api.call("GET", "/v1/runs?limit=1000&sort_by=created_at&sort_order=asc").json()["runs"]
    checkpoints = {
        run["id"]: [
            (c["sequence"], c["type"], c.get("step_id"))
            for c in api.call("GET", f"/v1/runs/{run['id']}/checkpoints?limit=1000").json()["checkpoints"]
        ]
        for run in runs
    }
    audit = api.call("GET", "/v1/audit-events?limit=1000&sort_order=asc").json()["events"]
    return {
        "runs": sorted((r["id"], r["status"], r.get("output_text")) for r in runs),
        "checkpoints": checkpoints,
        "audit": sorted((e["id"], e["event_type"], e.get("run_id")) for e in audit),
        "policies": api.call("GET", "/v1/policies/environment").json()["policies"],
        "tasks": sorted(t["id"] for t in api.call("GET", "/v1/human-tasks?status=pending").json()["tasks"]),
    }


def populate(api: Api) -> str:
    """Completed, human-resumed and blocked runs plus a policy; returns the open task id."""
    for i in range(3):
        assert api.create_run(specs.echo_chain(2), f"drill {i}")["status"] == "completed"
    resumed = api.create_run(specs.human_flow(), "approve me")
    task = api.call("GET", f"/v1/human-tasks/{resumed['continuation_id']}", "reviewer").json()
    decision = {"request_id": task["request"]["id"], "decision": "approved"}
    answer = api.call("POST", f"/v1/human-tasks/{resumed['continuation_id']}/resume", "reviewer", json=decision)
    assert answer.json()["status"] == "completed"
    blocked = api.create_run(specs.human_flow(), "still waiting")
    policy = {"enabled": True, "blocked_diagnostic_codes": ["DRILL001"], "require_human_review": True}
    assert api.call("PUT", "/v1/policies/environment/drill", json=policy).status_code == 200
    return str(blocked["continuation_id"])


def test_postgres_data_only_dump_restores_into_a_new_database(database_url: str, tmp_path: Path) -> None:
    dump = tmp_path / "kneo.dump"
    with private_redis(tmp_path / "redis") as broker:
        source_env = topology_env(database_url, 0, KNEO_SERV_BROKER_URL=broker)
        source = Topology(source_env, free_port(), tmp_path / "source", worker_concurrency=2).start()
        try:
            api = Api(source.base_url)
            open_task = populate(api)
            before = snapshot(api)
            dumped = flask_admin(source_env, "backup", "pg-dump", str(dump))
            assert dumped.returncode == 0, dumped.stderr
        finally:
            source.stop()
        target_url = create_database()
        try:
            target_env = topology_env(target_url, 0, KNEO_SERV_BROKER_URL=broker)
            upgraded = flask_admin(target_env, "db", "upgrade")
            assert upgraded.returncode == 0, upgraded.stderr
            restored = flask_admin(target_env, "backup", "pg-restore", str(dump))
            assert restored.returncode == 0, restored.stderr
            again = flask_admin(target_env, "backup", "pg-restore", str(dump))
            assert again.returncode == 1 and "not empty" in again.stderr
            target = Topology(target_env, free_port(), tmp_path / "target", worker_concurrency=2).start()
            try:
                api = Api(target.base_url)
                after = snapshot(api)
                assert after == before
                assert len(before["runs"]) == 5 and before["tasks"] == [open_task]
                kinds = {kind for entries in before["checkpoints"].values() for _, kind, _ in entries}
                assert "human_resume" in kinds
                # The restored platform continues where the source stopped.
                task = api.call("GET", f"/v1/human-tasks/{open_task}", "reviewer").json()
                decision = {"request_id": task["request"]["id"], "decision": "approved"}
                answer = api.call("POST", f"/v1/human-tasks/{open_task}/resume", "reviewer", json=decision)
                assert answer.status_code == 200 and answer.json()["status"] == "completed"
            finally:
                target.stop()
        finally:
            drop_database(target_url)


def test_backup_commands_refuse_the_wrong_backend(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
    env["KNEO_SERV_STATE_DIR"] = str(tmp_path / "state")
    result = flask_admin(env, "backup", "pg-dump", str(tmp_path / "x.dump"))
    assert result.returncode == 2 and "backup sqlite" in result.stderr
