"""``kneo spec validate|compile|graph --json`` agree with the HTTP routes on every public example spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient

from kneo.cli.main import cli
from kneo.config import Settings
from kneo.web import create_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/agents/*.yaml")])
ALLOW_LISTS = {"nothing-allowed": (), "examples-allowed": ("examples",)}


def test_the_examples_exist() -> None:
    assert len(EXAMPLES) >= 10


@pytest.fixture(scope="module", params=sorted(ALLOW_LISTS))
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    """A Flask test client on an in-process app (temp SQLite) with the given allow-list."""
    allowed = ALLOW_LISTS[request.param]
    state = tmp_path_factory.mktemp("state")
    app = create_app(Settings(sqlite_path=state / "kneo.sqlite", spec_root=ROOT, allowed_modules=allowed))
    yield app.test_client(), allowed


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the CLI outside any project, with no allow-list from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("KNEO_ENV", "KNEO_PROJECT_CONFIG", "KNEO_SERV_ALLOWED_MODULES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run_cli(command: str, path: Path, allowed: tuple[str, ...]) -> tuple[int, Any]:
    args = ["spec", command, str(path), "--json"]
    for prefix in allowed:
        args += ["--allow-module", prefix]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def post(client: FlaskClient, route: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(f"/v1/specs/{route}", json=body)
    return response.status_code, response.get_json()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_validate_diagnostics_match_the_http_route(
    example: Path, service: tuple[FlaskClient, tuple[str, ...]], isolated: Path
) -> None:
    client, allowed = service
    code, cli_report = run_cli("validate", example, allowed)
    relative = str(example.relative_to(ROOT))
    status, by_path = post(client, "validate", {"spec_path": relative})
    status_inline, inline = post(client, "validate", {"spec": yaml.safe_load(example.read_text())})
    assert (status, status_inline) == (200, 200)
    assert cli_report == by_path == inline
    assert code == (0 if cli_report["valid"] else 1)
    if allowed:
        assert cli_report["valid"], cli_report  # every public example is valid once 'examples' is allowed


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compile_and_graph_match_the_http_routes(
    example: Path, service: tuple[FlaskClient, tuple[str, ...]], isolated: Path
) -> None:
    client, allowed = service
    relative = str(example.relative_to(ROOT))
    code, compiled = run_cli("compile", example, allowed)
    status, http_compiled = post(client, "compile", {"spec_path": relative})
    assert (code == 0) == (status == 200)
    if status != 200:
        assert compiled["ok"] is False
        assert [d["code"] for d in compiled["diagnostics"]] == [
            d["code"] for d in http_compiled["detail"]["diagnostics"]
        ]
        return
    assert compiled == http_compiled
    graph_code, graph = run_cli("graph", example, allowed)
    graph_status, http_graph = post(client, "graph", {"spec_path": relative})
    assert (graph_code, graph_status) == (0, 200)
    assert graph == http_graph
