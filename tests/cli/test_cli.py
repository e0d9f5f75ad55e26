"""Unit tests of the CLI helpers: profile store, output, progress, error mapping, argument checks."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from kneo.cli import output, profiles
from kneo.cli.client import Client, _body, make_client
from kneo.cli.errors import CliError, json_errors
from kneo.cli.main import cli


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "nested" / "profiles.json"
    monkeypatch.setenv("KNEO_SERV_PROFILES_PATH", str(path))
    monkeypatch.delenv("KNEO_SERV_API_KEY", raising=False)
    monkeypatch.delenv("KNEO_SERV_URL", raising=False)
    return path


def test_profile_store_is_private_and_never_lists_keys(store: Path) -> None:
    profiles.add("prod", "https://kneo.example.com/", "secret-key", activate=True)
    profiles.add("staging", "https://staging.example.com", None, activate=False)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    data = json.loads(store.read_text())
    assert data["active"] == "prod"
    assert data["profiles"]["prod"] == {"service_url": "https://kneo.example.com", "api_key": "secret-key"}
    assert "secret-key" not in json.dumps(profiles.listing())
    assert profiles.use("staging").service_url == "https://staging.example.com"
    with pytest.raises(CliError, match="no profile named 'gone'"):
        profiles.use("gone")


def test_client_resolution_order(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_client(None, None).service_url == "http://127.0.0.1:8000"
    profiles.add("prod", "https://prod.example.com", "prod-key", activate=True)
    active = make_client(None, None)
    assert (active.service_url, active.api_key) == ("https://prod.example.com", "prod-key")
    monkeypatch.setenv("KNEO_SERV_API_KEY", "env-key")
    explicit = make_client("http://other:8000", None)
    assert (explicit.service_url, explicit.api_key) == ("http://other:8000", "env-key")
    override = make_client("http://other:8000", "prod")
    assert (override.service_url, override.api_key) == ("http://other:8000", "prod-key")
    monkeypatch.setenv("KNEO_SERV_CLIENT_TIMEOUT", "0")
    with pytest.raises(CliError, match="KNEO_SERV_CLIENT_TIMEOUT must be greater than zero"):
        make_client(None, None)


def _response(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


def test_error_envelopes_become_cli_errors() -> None:
    assert _body(_response(200, {"ok": True})) == {"ok": True}
    envelope = {"detail": {"error": "forbidden", "message": "Missing required scope: runs:write"}}
    with pytest.raises(CliError, match=r"Missing required scope: runs:write \(forbidden, HTTP 403\)"):
        _body(_response(403, envelope))
    with pytest.raises(CliError, match="HTTP 404: Not Found"):
        _body(_response(404, {"detail": "Not Found"}))


def test_cli_error_prints_a_cross(capsys: pytest.CaptureFixture[str]) -> None:
    json_errors(False)  # the mode outlives an in-process ``--json`` invocation
    CliError("it broke").show()
    assert capsys.readouterr().err == "✗ it broke\n"
    assert CliError("x").exit_code == 1


def test_table_aligns_and_clips(capsys: pytest.CaptureFixture[str]) -> None:
    output.table([{"id": "a", "text": "x" * 80}, {"id": "bbb", "text": None}], ["id", "text"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "TEXT"]
    assert lines[1].startswith("a    ") and lines[1].endswith("…") and len(lines[1]) < 70
    assert lines[2].split() == ["bbb", "-"]


def test_progress_spins_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with output.progress("waiting", enabled=True):
        time.sleep(0.35)
    err = capsys.readouterr().err
    assert "waiting" in err and "s" in err and any(frame in err for frame in output.SPINNER)
    with output.progress("quiet", enabled=False):
        pass
    assert capsys.readouterr().err == ""


def test_resume_needs_exactly_one_decision(store: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["human", "resume", "c1", "--request-id", "r1"])
    assert result.exit_code == 2 and "exactly one" in result.output
    result = runner.invoke(cli, ["human", "resume", "c1", "--request-id", "r1", "--approve", "--select", "a"])
    assert result.exit_code == 2


def test_help_lists_the_client_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for command in ("serve", "run", "runs", "human", "config"):
        assert f"  {command} " in result.output
    assert CliRunner().invoke(cli, ["--version"]).output.startswith("kneo, version ")


def test_get_requests_retry_transient_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [_response(503, {"detail": "busy"}), _response(200, {"runs": []})]
    calls: list[str] = []

    def fake(method: str, url: str, **_: object) -> requests.Response:
        calls.append(method)
        return answers.pop(0)

    monkeypatch.setattr(requests, "request", fake)
    monkeypatch.delenv("KNEO_SERV_IDEMPOTENCY_KEY", raising=False)
    client = Client("http://kneo", None, retries=2, backoff=0.001)
    assert client.request("GET", "/runs") == {"runs": []}
    assert calls == ["GET", "GET"]
    answers[:] = [_response(503, {"detail": "busy"})]
    with pytest.raises(CliError, match="HTTP 503"):
        client.request("POST", "/runs", json={})  # no idempotency key: never retried
