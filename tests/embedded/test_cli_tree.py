"""The whole ``kneo`` command tree (contract §16 and the additions) against a live ``kneo serve``.

Exit-code rule under test everywhere: 0 ok, 1 failure (``✗ message``), 2 usage error.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.embedded.server import KNEO, EmbeddedServer
from tests.support import specs
from tests.support.cli import field
from tests.support.services import KEYS, ROOT, free_port

pytestmark = pytest.mark.e2e
FUNCTIONS = {"upper": "tests.support.functions.upper", "marked": "tests.support.functions.fail_once_per_marker"}


class Cli:
    """Runs ``kneo`` as a user would, against one server, with a private profile store."""

    def __init__(self, server: EmbeddedServer, home: Path) -> None:
        self.server = server
        self.home = home
        self.url = server.base_url

    def __call__(self, *args: str, key: str | None = "operator", stdin: str | None = None, **env: str) -> Any:
        base = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
        base.update(KNEO_SERV_PROFILES_PATH=str(self.home / "profiles.json"), KNEO_SERV_URL=self.url)
        if key:
            base["KNEO_SERV_API_KEY"] = KEYS[key]
        return subprocess.run(
            [str(KNEO), *args],
            env={**base, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=env.pop("cwd", None) or self.home,
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self(*args, "--json", **kwargs)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("specs")
    documents = {
        "echo": specs.echo_chain(2),
        "human": specs.human_flow(allow_edit=True),
        "flaky": specs.sequential(
            [specs.function_step("first", "upper"), specs.function_step("flaky", "marked")], functions=FUNCTIONS
        ),
    }
    for name, document in documents.items():
        (root / f"{name}.yaml").write_text(yaml.safe_dump(document))
    return {name: root / f"{name}.yaml" for name in documents}


@pytest.fixture
def kneo(shared_server: EmbeddedServer, tmp_path: Path) -> Iterator[Cli]:
    yield Cli(shared_server, tmp_path)


def test_version_and_exit_code_rule(kneo: Cli, files: dict[str, Path]) -> None:
    assert kneo("--version").stdout.startswith("kneo, version ")
    assert "0 ok, 1 failure" in kneo("--help").stdout
    assert kneo("runs", "list", "--status", "bogus").returncode == 2
    assert kneo("runs", "bogus").returncode == 2
    failed = kneo("run", str(files["echo"]), "-i", "x", key="viewer")
    assert failed.returncode == 1 and failed.stderr.startswith("✗ ") and "Traceback" not in failed.stderr


def test_run_input_forms_and_wait(kneo: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    spec = str(files["echo"])
    after = kneo.json("run", spec, "--input", "hello")
    before = kneo.json("run", "-i", "hello", spec)
    assert after["status"] == before["status"] == "completed" and "hello" in after["output_text"]
    assert "from stdin" in kneo.json("run", spec, "-i", "-", stdin="from stdin")["output_text"]
    (tmp_path / "input.txt").write_text("from a file")
    assert "from a file" in kneo.json("run", spec, "--input-file", str(tmp_path / "input.txt"))["output_text"]
    both = kneo("run", spec, "-i", "x", "--input-file", str(tmp_path / "input.txt"))
    assert both.returncode == 2 and "exactly one of" in both.stderr
    missing = kneo("run", str(tmp_path / "nope.yaml"), "-i", "x")
    assert missing.returncode == 1 and missing.stderr.startswith("✗ Spec file not found")
    queued = kneo.json("run", spec, "-i", "later", "--async")
    assert queued["status"] == "running" and queued["output_text"] is None
    waited = kneo.json("runs", "wait", queued["run_id"][:8])
    assert waited["status"] == "completed" and "later" in waited["output_text"]
    table = kneo("run", spec, "-i", "table please")
    assert table.returncode == 0 and field(table.stdout, "Status") == "completed"
    assert field(table.stdout, "Input") == "table please"
    assert "\x1b[" not in table.stdout + table.stderr  # no colour when piped


def test_runs_views_with_id_prefixes(kneo: Cli, files: dict[str, Path]) -> None:
    run_id = kneo.json("run", str(files["echo"]), "-i", "inspect me")["run_id"]
    short = run_id[:8]
    assert run_id in {r["id"] for r in kneo.json("runs", "list", "--status", "completed", "--limit", "100")["runs"]}
    assert kneo("runs", "list").stdout.startswith("RUN")
    assert kneo.json("runs", "get", short)["run_id"] == run_id
    shown = kneo("runs", "get", short).stdout
    assert (field(shown, "Run"), field(shown, "Input"), field(shown, "Steps done")) == (run_id, "inspect me", "a0, a1")
    assert kneo.json("runs", "trace", short)["events"]
    assert "TYPE" in kneo("runs", "trace", short).stdout
    checkpoints = kneo.json("runs", "checkpoints", short)["checkpoints"]
    assert [c["sequence"] for c in checkpoints] == sorted(c["sequence"] for c in checkpoints)
    replay = kneo.json("runs", "replay", short)
    assert replay["run_id"] == run_id and replay["timeline"]
    assert "Can continue" in kneo("runs", "replay", short).stdout
    last = checkpoints[-1]["sequence"]
    diff = kneo.json("runs", "checkpoint-diff", short, "--from-sequence", "1", "--to-sequence", str(last))
    assert diff["change_count"] > 0 and diff["to_checkpoint"]["sequence"] == last
    default = kneo("runs", "checkpoint-diff", short).stdout
    assert default.startswith("checkpoint ") and f"→ {last}" in default and "changes" in default
    watched = kneo("runs", "watch", short)
    assert watched.returncode == 0 and "✓ a0" in watched.stderr and "✓ a1" in watched.stderr
    done = kneo("runs", "cancel", short)
    assert done.returncode == 0 and "already finished (completed)" in done.stdout
    unknown = kneo("runs", "get", "zz")
    assert unknown.returncode == 1 and "no recent run id starts with 'zz'" in unknown.stderr
    as_json = kneo("runs", "get", "zz", "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stderr)["error"]["code"] == "not_found"


def test_continue_a_failed_run(kneo: Cli, files: dict[str, Path]) -> None:
    text = f"cont-{uuid.uuid4().hex[:8]}"
    failed = kneo("run", str(files["flaky"]), "-i", text, "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["status"] == "failed"
    run_id = json.loads(failed.stdout)["run_id"]
    assert field(kneo("runs", "get", run_id).stdout, "Failed step") == "flaky"
    continued = kneo.json("runs", "continue", run_id[:8])
    assert continued["status"] == "completed" and continued["output_text"] == f"second time lucky: {text.upper()}"


def test_human_get_list_resume_without_request_id(kneo: Cli, files: dict[str, Path]) -> None:
    blocked = kneo("run", str(files["human"]), "-i", "please review")
    assert blocked.returncode == 0 and field(blocked.stdout, "Status") == "blocked"
    assert "human intervention required" in blocked.stderr
    run = kneo.json("run", str(files["human"]), "-i", "review me")
    continuation = run["continuation_id"]
    assert continuation in {t["id"] for t in kneo.json("human", "list", key="reviewer")["tasks"]}
    got = kneo.json("human", "get", continuation, key="reviewer")
    assert got["request"]["title"] == "Approve the draft"
    shown = kneo("human", "get", continuation, key="reviewer").stdout
    assert "Under review" in shown and f"kneo human resume {continuation} --approve" in shown
    assert kneo("human", "resume", continuation, "--approve", "--reject", key="reviewer").returncode == 2
    resumed = kneo("human", "resume", continuation, "--edit", "edited text", key="reviewer")
    assert resumed.returncode == 0 and field(resumed.stdout, "Status") == "completed", resumed.stderr
    decided = kneo("human", "list", "--status", "all", "--run-id", run["run_id"][:8], key="reviewer").stdout
    assert "edited" in decided and "reviewer" in decided
    gone = kneo("human", "get", continuation, key="reviewer")
    assert gone.returncode == 1 and "no longer waits" in gone.stderr


def test_audit_list(kneo: Cli, files: dict[str, Path]) -> None:
    run_id = kneo.json("run", str(files["echo"]), "-i", "audit me")["run_id"]
    events = kneo.json("audit", "list", "--run-id", run_id[:8], key="admin")["events"]
    assert {"run.created", "run.completed"} <= {e["event_type"] for e in events}
    assert "run.created" in kneo("audit", "list", "--run-id", run_id, "--oldest-first", key="admin").stdout
    denied = kneo("audit", "list", key=None)
    assert denied.returncode == 1 and "hint: pass a key with --api-key" in denied.stderr


def test_service_options_api_key_and_unreachable(kneo: Cli, files: dict[str, Path]) -> None:
    assert kneo("runs", "list", "--api-key", KEYS["viewer"], key=None).returncode == 0
    missing = kneo("runs", "list", key=None)
    assert missing.returncode == 1 and "--api-key" in missing.stderr
    down = kneo("runs", "list", "--service-url", f"http://127.0.0.1:{free_port()}", KNEO_SERV_CLIENT_RETRIES="0")
    assert down.returncode == 1 and down.stderr.startswith("✗ cannot reach")
    assert "--service-url URL or --profile NAME" in down.stderr


def test_profiles(kneo: Cli) -> None:
    no_scheme = kneo("config", "profile", "set", "local", "--service-url", "127.0.0.1:8000", key=None)
    assert no_scheme.returncode == 2 and "needs a scheme" in no_scheme.stderr
    saved = kneo("config", "profile", "set", "local", "--service-url", kneo.url, "--api-key", KEYS["viewer"], key=None)
    assert saved.returncode == 0, saved.stderr
    assert stat.S_IMODE((kneo.home / "profiles.json").stat().st_mode) == 0o600
    kneo("config", "profile", "add", "other", "--service-url", "http://127.0.0.1:9", "--no-activate", key=None)
    listed = kneo.json("config", "profile", "list", key=None)["profiles"]
    assert [(p["name"], p["active"]) for p in listed] == [("local", True), ("other", False)]
    shown = kneo.json("config", "profile", "show", key=None)
    assert shown == {"name": "local", "service_url": kneo.url, "authenticated": True, "active": True}
    assert KEYS["viewer"] not in kneo("config", "profile", "show", "--name", "local", key=None).stdout
    assert kneo("runs", "list", "--profile", "local", key=None, KNEO_SERV_URL="").returncode == 0
    assert kneo("config", "profile", "use", "other", key=None).returncode == 0
    assert kneo.json("config", "profile", "show", key=None)["name"] == "other"
    assert kneo("config", "profile", "delete", "other", key=None).returncode == 0
    assert [p["name"] for p in kneo.json("config", "profile", "list", key=None)["profiles"]] == ["local"]
    assert kneo("config", "profile", "delete", "other", key=None).returncode == 1


def test_spec_commands_on_the_service(kneo: Cli, files: dict[str, Path]) -> None:
    spec = str(files["flaky"])
    local = kneo("spec", "validate", spec, "--json")
    assert local.returncode == 1  # nothing is allowed locally by default
    remote = kneo.json("spec", "validate", spec, "--service-url", kneo.url)
    assert remote["valid"] is True  # the service allows tests.support
    assert kneo("spec", "lint", spec, "--service-url", kneo.url).returncode in (0, 1)
    compiled = kneo.json("spec", "compile", spec, "--service-url", kneo.url)
    assert compiled["ok"] is True and compiled["summary"]["has_root_workflow"] is True
    report = kneo.json("spec", "policy-report", spec, "--service-url", kneo.url)
    assert report["valid"] is True
    kneo("config", "profile", "set", "svc", "--service-url", kneo.url, "--api-key", KEYS["operator"], key=None)
    assert kneo.json("spec", "validate", spec, "--profile", "svc", key=None)["valid"] is True
    denied = kneo("spec", "validate", spec, "--service-url", kneo.url, key=None)
    assert denied.returncode == 1 and "API key" in denied.stderr


def test_config_init_show_resolve_render_secrets(kneo: Cli, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "examples").mkdir(parents=True)
    (project / "examples" / "human_sequential_approval.yaml").write_text(
        (ROOT / "examples" / "human_sequential_approval.yaml").read_text()
    )
    assert kneo("config", "init", "--name", "demo", cwd=str(project)).returncode == 0
    assert all((project / ".kneo" / d).is_dir() for d in ("artifacts", "logs", "cache"))
    again = kneo("config", "init", cwd=str(project))
    assert again.returncode == 1 and "--force" in again.stderr
    assert kneo("config", "init", "--force", cwd=str(project)).returncode == 0
    shown = kneo.json("config", "show", cwd=str(project))
    assert shown["project"] == "kneo-serv-project" and shown["service_url"] == "http://127.0.0.1:8000"
    resolved = kneo.json("config", "resolve", "--env", "prod", cwd=str(project))
    assert resolved["environment"] == "prod" and resolved["spec_path"].endswith("human_sequential_approval.yaml")
    assert "OPENAI_API_KEY" in json.dumps(resolved["secrets"])
    rendered = kneo("config", "render-spec", "-o", "out/prod.yaml", "--env", "prod", cwd=str(project))
    assert rendered.returncode == 0, rendered.stderr
    assert yaml.safe_load((project / "out" / "prod.yaml").read_text())["workflow"]["name"] == "release-approval"
    secrets = kneo.json("config", "secrets", "--env", "prod", cwd=str(project), OPENAI_API_KEY="sk-never-shown")
    assert secrets["environment"] == "prod" and secrets["providers"]["openai"]["present"] is True
    assert "sk-never-shown" not in kneo("config", "secrets", cwd=str(project), OPENAI_API_KEY="sk-never-shown").stdout


def test_service_serve(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path)
    server.command = ["service", "serve"]
    try:
        server.start()
        assert server.sqlite_path.is_file()
    finally:
        assert server.stop() == 0


def on_a_terminal(cli: Cli, *args: str) -> str:
    """Run ``kneo`` with stdout and stderr on a pseudo-terminal; returns everything it drew."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
    env.update(KNEO_SERV_URL=cli.url, KNEO_SERV_API_KEY=KEYS["operator"], TERM="xterm")
    env["KNEO_SERV_PROFILES_PATH"] = str(cli.home / "profiles.json")
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(KNEO), *args], stdout=follower, stderr=follower, env=env, cwd=cli.home)
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    process.wait(timeout=60)
    os.close(leader)
    return drawn.decode(errors="replace")


def test_colour_and_step_progress_on_a_terminal_only(kneo: Cli, tmp_path: Path) -> None:
    slow = specs.sequential(
        [specs.function_step("first", "upper"), specs.function_step("slow", "slow"), specs.function_step("last", "up")],
        functions={
            "upper": "tests.support.functions.upper",
            "slow": "tests.support.functions.slow",
            "up": "tests.support.functions.upper",
        },
    )
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(slow))
    drawn = on_a_terminal(kneo, "run", str(tmp_path / "slow.yaml"), "-i", "progress please")
    assert "\x1b[32mcompleted\x1b[0m" in drawn  # the status in green
    assert "running: 1 step done, last first" in drawn  # the progress line names the steps
    assert "\x1b[" not in on_a_terminal(kneo, "runs", "list", "--json").replace("\x1b[?", "")


def test_serve_reload_restarts_on_a_code_change(tmp_path: Path) -> None:
    import signal
    import time

    import requests

    (tmp_path / "examples").mkdir()
    functions = tmp_path / "examples" / "functions.py"
    functions.write_text((ROOT / "examples" / "functions.py").read_text())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(KNEO), "service", "serve", "--reload", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready_lines() -> int:
        return log.read_text().count(f"ready on http://127.0.0.1:{port}")

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 90
        while ready_lines() < count:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

    try:
        wait_for(1)
        functions.write_text(functions.read_text() + "\n\ndef added(text: str) -> str:\n    return text\n")
        wait_for(2)
        assert "code changed, restarting" in log.read_text()
        deadline = time.monotonic() + 30
        while requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
