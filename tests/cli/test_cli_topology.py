"""The `kneo` CLI as a client of a real topology (gunicorn, Celery worker and beat on PostgreSQL)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.test_ops_support import private_redis
from tests.support import specs
from tests.support.cli import field
from tests.support.services import KEYS, ROOT, Topology, free_port, topology_env

KNEO = ROOT / ".venv" / "bin" / "kneo"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    workdir = tmp_path_factory.mktemp("cli")
    with private_redis(workdir / "redis") as broker:
        env = topology_env(module_database_url, 0, KNEO_SERV_BROKER_URL=broker)
        topology = Topology(env, free_port(), workdir, worker_concurrency=2).start()
        yield topology
        topology.stop()


@pytest.fixture
def spec_files(tmp_path: Path) -> dict[str, Path]:
    files = {"echo": tmp_path / "echo.yaml", "human": tmp_path / "human.yaml"}
    files["echo"].write_text(yaml.safe_dump(specs.echo_chain(2)))
    files["human"].write_text(yaml.safe_dump(specs.human_flow()))
    return files


def kneo(
    *args: str, key: str | None = "operator", url: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
    base["KNEO_SERV_PROFILES_PATH"] = env.pop("profiles", "/nonexistent/kneo-profiles.json")
    if key:
        base["KNEO_SERV_API_KEY"] = KEYS[key]
    if url:
        base["KNEO_SERV_URL"] = url
    return subprocess.run([str(KNEO), *args], env={**base, **env}, capture_output=True, text=True, timeout=120)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_version() -> None:
    result = kneo("--version")
    assert result.returncode == 0 and result.stdout.startswith("kneo, version ")


def test_run_with_options_in_either_order(service: Topology, spec_files: dict[str, Path]) -> None:
    url = service.base_url
    after = as_json(kneo("run", str(spec_files["echo"]), "--input", "hello", "--json", "--service-url", url))
    before = as_json(kneo("run", "--json", "-i", "hello", "--service-url", url, str(spec_files["echo"])))
    for run in (after, before):
        assert run["status"] == "completed" and "hello" in run["output_text"]
    table = kneo("run", str(spec_files["echo"]), "--input", "table please", url=url)
    assert table.returncode == 0
    assert field(table.stdout, "Status") == "completed" and "table please" in table.stdout


def test_async_run_and_wait(service: Topology, spec_files: dict[str, Path]) -> None:
    queued = as_json(kneo("run", str(spec_files["echo"]), "-i", "later", "--async", "--json", url=service.base_url))
    assert queued["status"] in ("running", "completed") and queued["output_text"] is None
    waited = as_json(
        kneo("run", str(spec_files["echo"]), "-i", "wait", "--async", "--wait", "--json", url=service.base_url)
    )
    assert waited["status"] == "completed" and "wait" in waited["output_text"]


def test_runs_commands(service: Topology, spec_files: dict[str, Path]) -> None:
    url = service.base_url
    run = as_json(kneo("run", str(spec_files["echo"]), "-i", "inspect me", "--json", url=url))
    run_id = run["run_id"]
    listed = as_json(kneo("runs", "list", "--status", "completed", "--json", url=url))
    assert run_id in {r["id"] for r in listed["runs"]}
    table = kneo("runs", "list", url=url)
    assert table.returncode == 0 and table.stdout.startswith("RUN") and run_id in table.stdout
    assert as_json(kneo("runs", "get", run_id, "--json", url=url))["status"] == "completed"
    trace = as_json(kneo("runs", "trace", run_id, "--json", url=url))
    assert trace["run_id"] == run_id and trace["events"]
    assert kneo("runs", "trace", run_id, url=url).stdout.startswith("TIME ")
    checkpoints = as_json(kneo("runs", "checkpoints", run_id, "--json", url=url))
    assert [c["sequence"] for c in checkpoints["checkpoints"]] == sorted(
        c["sequence"] for c in checkpoints["checkpoints"]
    )
    assert "SEQUENCE" in kneo("runs", "checkpoints", run_id, url=url).stdout
    cancelled = kneo("runs", "cancel", run_id, url=url)
    assert cancelled.returncode == 0 and "already finished (completed)" in cancelled.stdout


def test_cancel_a_blocked_run(service: Topology, spec_files: dict[str, Path]) -> None:
    blocked = as_json(kneo("run", str(spec_files["human"]), "-i", "cancel me", "--json", url=service.base_url))
    result = kneo("runs", "cancel", blocked["run_id"], url=service.base_url)
    assert result.returncode == 0 and result.stdout.strip() == f"Run {blocked['run_id']} cancelled."
    assert as_json(kneo("runs", "get", blocked["run_id"], "--json", url=service.base_url))["status"] == "cancelled"


def test_human_list_show_resume(service: Topology, spec_files: dict[str, Path]) -> None:
    url = service.base_url
    blocked = kneo("run", str(spec_files["human"]), "-i", "please review", url=url)
    assert blocked.returncode == 0 and field(blocked.stdout, "Status") == "blocked"
    assert "human intervention required" in blocked.stderr
    run = as_json(kneo("run", str(spec_files["human"]), "-i", "please review", "--json", url=url))
    continuation = run["continuation_id"]
    tasks = as_json(kneo("human", "list", "--json", key="reviewer", url=url))["tasks"]
    assert continuation in {t["id"] for t in tasks}
    assert continuation in kneo("human", "list", key="reviewer", url=url).stdout
    shown = as_json(kneo("human", "show", continuation, "--json", key="reviewer", url=url))
    request_id = shown["request"]["id"]
    text = kneo("human", "show", continuation, key="reviewer", url=url).stdout
    assert field(text, "Request id") == request_id and f"kneo human resume {continuation} --approve" in text
    two = kneo(
        "human", "resume", continuation, "--request-id", request_id, "--approve", "--reject", key="reviewer", url=url
    )
    assert two.returncode == 2 and "exactly one" in two.stderr
    wrong = kneo("human", "resume", continuation, "--request-id", "nope", "--approve", key="reviewer", url=url)
    assert wrong.returncode == 1 and wrong.stderr.startswith("✗ request_id does not match")
    operator = kneo("human", "resume", continuation, "--request-id", request_id, "--approve", url=url)
    assert operator.returncode == 1 and "Missing required scope: human:write" in operator.stderr
    resumed = as_json(
        kneo(
            "human", "resume", continuation, "--request-id", request_id, "--approve", "--json", key="reviewer", url=url
        )
    )
    assert resumed["status"] == "completed"


def test_errors_print_a_cross_and_exit_1(service: Topology) -> None:
    unknown = kneo("runs", "get", "no-such-run", url=service.base_url)
    assert unknown.returncode == 1 and unknown.stderr.startswith("✗ ") and "no-such-run" in unknown.stderr
    unauthenticated = kneo("runs", "list", key=None, url=service.base_url)
    assert unauthenticated.returncode == 1
    assert unauthenticated.stderr.startswith("✗ A valid Kneo service API key is required.")
    down = kneo("runs", "list", url=f"http://127.0.0.1:{free_port()}", KNEO_SERV_CLIENT_RETRIES="0")
    assert down.returncode == 1 and down.stderr.startswith("✗ cannot reach")
    missing = kneo("run", "/nonexistent.yaml", "-i", "x", url=service.base_url)
    assert missing.returncode == 1 and missing.stderr.startswith("✗ Spec file not found: /nonexistent.yaml")
    no_input = kneo("run", "/nonexistent.yaml", url=service.base_url)
    assert no_input.returncode == 2 and "exactly one of -i/--input" in no_input.stderr


def test_profiles_select_the_service_and_key(service: Topology, tmp_path: Path) -> None:
    store = str(tmp_path / "home" / "profiles.json")
    added = kneo(
        "config", "profile", "add", "local", "--service-url", service.base_url, "--api-key", KEYS["viewer"],
        key=None, profiles=store,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(Path(store).stat().st_mode) == 0o600
    kneo(
        "config",
        "profile",
        "add",
        "other",
        "--service-url",
        "http://127.0.0.1:9",
        "--no-activate",
        key=None,
        profiles=store,
    )
    listed = as_json(kneo("config", "profile", "list", "--json", key=None, profiles=store))
    assert [(p["name"], p["active"], p["authenticated"]) for p in listed["profiles"]] == [
        ("local", True, True),
        ("other", False, False),
    ]
    assert KEYS["viewer"] not in kneo("config", "profile", "list", key=None, profiles=store).stdout
    # The active profile supplies URL and key: a viewer may list runs but not create them.
    assert kneo("runs", "list", "--json", key=None, profiles=store).returncode == 0
    spec = tmp_path / "echo.yaml"
    spec.write_text(yaml.safe_dump(specs.echo_chain(1)))
    denied = kneo("run", str(spec), "-i", "x", key=None, profiles=store)
    assert denied.returncode == 1 and "Missing required scope: runs:write" in denied.stderr
    assert kneo("config", "profile", "use", "other", key=None, profiles=store).returncode == 0
    assert kneo("runs", "list", key=None, profiles=store, KNEO_SERV_CLIENT_RETRIES="0").returncode == 1
    explicit = kneo("runs", "list", "--profile", "local", "--json", key=None, profiles=store)
    assert explicit.returncode == 0
    missing = kneo("runs", "list", "--profile", "nope", key=None, profiles=store)
    assert missing.returncode == 1 and "no profile named 'nope'" in missing.stderr


def test_config_secrets_never_prints_values() -> None:
    secret = "sk-test-should-never-appear"
    inventory = as_json(kneo("config", "secrets", "--json", OPENAI_API_KEY=secret))
    assert inventory["providers"]["openai"]["present"] is True
    assert inventory["service_tokens"]["KNEO_SERV_API_KEY"]["present"] is True
    table = kneo("config", "secrets", OPENAI_API_KEY=secret)
    assert secret not in table.stdout and KEYS["operator"] not in table.stdout and "OPENAI_API_KEY" in table.stdout
