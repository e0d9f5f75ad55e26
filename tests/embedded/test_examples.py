"""Every spec in ``examples/`` runs under ``kneo serve`` from the repository root with no settings."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.embedded.server import KNEO, EmbeddedServer
from tests.support.services import ROOT, Api

pytestmark = pytest.mark.e2e
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
SETTLED = {"completed", "failed", "cancelled", "expired", "timed_out", "blocked"}
# Examples that show a failure on purpose.
EXPECTED = {"graph_loop_capped.yaml": "failed"}
INPUT = "The checkout service is down since 09:00; customers cannot pay."


def needs_a_model(spec: dict[str, Any]) -> bool:
    """True when the spec's root agent only runs on a model provider (none is configured here)."""
    preferences = (spec.get("agent") or {}).get("runtime_preferences") or {}
    return "bridge" not in (preferences.get("allowed_modes") or ["bridge"])


def has_human_step(spec: dict[str, Any]) -> bool:
    """True when the spec declares a human component (every such example pauses for a decision)."""
    return bool((spec.get("components") or {}).get("humans"))


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """``kneo serve`` as ``make serve`` starts it: repository root, no KNEO_SERV_* setting, no PYTHONPATH."""
    workdir = tmp_path_factory.mktemp("examples")
    server = EmbeddedServer(workdir, cwd=ROOT)
    server.env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_") and k != "PYTHONPATH"}
    server.env["KNEO_SERV_STATE_DIR"] = str(workdir / "state")
    server.start()
    yield server
    server.stop()


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 14


def test_every_example_reaches_a_terminal_or_blocked_state(newcomer: EmbeddedServer) -> None:
    api = Api(newcomer.base_url)
    started: dict[Path, str] = {}
    for path in EXAMPLES:
        spec = yaml.safe_load(path.read_text())
        response = api.call("POST", "/v1/runs", role=None, json={"input": INPUT, "spec": spec, "async_mode": True})
        assert response.status_code in (200, 202), (path.name, response.text)
        started[path] = response.json()["run_id"]
    deadline = time.monotonic() + 240
    final: dict[Path, dict[str, Any]] = {}
    while len(final) < len(started) and time.monotonic() < deadline:
        for path, run_id in started.items():
            run = api.call("GET", f"/v1/runs/{run_id}", role=None).json()
            if run["status"] in SETTLED:
                final[path] = run
        time.sleep(0.5)
    assert set(final) == set(started), f"still running: {sorted(p.name for p in set(started) - set(final))}"
    for path, run in final.items():
        spec = yaml.safe_load(path.read_text())
        if needs_a_model(spec):
            continue  # settled is all a machine without a model server can show
        expected = EXPECTED.get(path.name) or ("blocked" if has_human_step(spec) else "completed")
        assert run["status"] == expected, (path.name, run["status"], run.get("error"))


def test_human_example_blocks_with_its_request(newcomer: EmbeddedServer) -> None:
    api = Api(newcomer.base_url)
    spec = yaml.safe_load((ROOT / "examples" / "human_sequential_approval.yaml").read_text())
    run = api.call("POST", "/v1/runs", role=None, json={"input": "release notes", "spec": spec}).json()
    assert run["status"] == "blocked" and run["continuation_id"], run
    resumed = api.call(
        "POST",
        f"/v1/human-tasks/{run['continuation_id']}/resume",
        role=None,
        json={"request_id": run["metadata"]["request"]["id"], "decision": "approved"},
    ).json()
    assert resumed["status"] == "completed" and resumed["output_text"].startswith("Published:"), resumed


def test_production_keeps_the_explicit_allowlist(tmp_path: Path) -> None:
    from kneo.config import load_settings

    root = str(ROOT)
    embedded = load_settings({"KNEO_SERV_SPEC_ROOT": root})
    broker = load_settings({"KNEO_SERV_SPEC_ROOT": root, "KNEO_SERV_BROKER_URL": "redis://127.0.0.1:6379/0"})
    elsewhere = load_settings({"KNEO_SERV_SPEC_ROOT": str(tmp_path)})
    assert embedded.allowed_modules == ("examples",)
    assert broker.allowed_modules == () and elsewhere.allowed_modules == ()


def test_startup_says_where_and_whether_keys_are_needed(newcomer: EmbeddedServer) -> None:
    log = newcomer.log_path.read_text()
    assert f"ready on {newcomer.base_url} (API docs {newcomer.base_url}/docs)" in log
    assert "auth: off (any client may call; set KNEO_SERV_API_KEYS to require keys)" in log
    assert f"examples: the spec root's examples package is trusted ({ROOT / 'examples'})" in log
    assert "WARNING" not in log and "kombu" not in log


def test_bad_settings_are_one_line_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "KNEO_SERV_API_KEYS": "not-a-key-entry", "KNEO_SERV_STATE_DIR": str(tmp_path)}
    result = subprocess.run([str(KNEO), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("✗ Invalid KNEO_SERV_API_KEYS entry.") and len(result.stderr.splitlines()) == 1
