"""scripts/crash_conformance.py against its own topology, without touching the shared PostgreSQL server.

Its postgres-restart scenario runs the same harness and is exercised by
``test_crash_recovery.py::test_crash_conformance_postgres_restart`` (that module restarts the
PostgreSQL cluster and is run on a dedicated server only).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import PG_ADMIN_URL, ROOT

pytestmark = pytest.mark.e2e

SCENARIOS = ["worker-before-claim", "worker-mid-step", "after-ack-redelivery", "broker-flush", "two-beats"]


def conformance(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "crash_conformance.py"),
            "--pg-admin-url",
            PG_ADMIN_URL,
            "--json",
            "--workdir",
            str(tmp_path / "crash"),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    outcomes = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else []
    return result, outcomes


def test_every_scenario_but_the_postgres_restart_passes(tmp_path: Path) -> None:
    result, outcomes = conformance(tmp_path, "--skip-postgres-restart")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert [o["name"] for o in outcomes] == SCENARIOS
    for outcome in outcomes:
        assert outcome["passed"], outcome
        assert "expected" in outcome and "observed" in outcome
    recoveries = {str(o["name"]): o["recovery_seconds"] for o in outcomes}
    assert 0 < float(recoveries["worker-mid-step"] or 0) < 60
    assert f"{len(SCENARIOS)}/{len(SCENARIOS)} scenarios passed" in result.stdout


def test_scenarios_can_be_selected_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    result, outcomes = conformance(tmp_path, "--only", "after-ack-redelivery")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [o["name"] for o in outcomes] == ["after-ack-redelivery"]
    refused = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crash_conformance.py"), "--only", "reboot-the-moon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "unknown scenario" in refused.stderr
