"""Secure defaults: auth on in production shapes, startup checks, /metrics behind a key."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.embedded.server import KNEO
from tests.support.services import KEYS, Topology, base_env, free_port, start_topology, topology_env

pytestmark = pytest.mark.e2e

NO_KEYS = ("KNEO_SERV_API_KEYS", "KNEO_SERV_ADMIN_API_KEY")
LONG_KEY = "a-long-random-operator-key-0123"


def _web_only(tmp_path: Path, database_url: str, without: tuple[str, ...] = (), **extra: str) -> Topology:
    """gunicorn alone (no worker needed to see whether the web starts)."""
    env = {k: v for k, v in topology_env(database_url, 0, **extra).items() if k not in without}
    topology = Topology(env, free_port(), tmp_path)
    topology.workdir.mkdir(parents=True, exist_ok=True)
    topology.start_web()
    return topology


def _refused(topology: Topology) -> str:
    """The web log of a gunicorn that must exit instead of serving."""
    try:
        with pytest.raises(RuntimeError, match="web exited") as info:
            topology.wait_http("/readyz", 90)
    finally:
        topology.stop()
    return str(info.value)


def test_database_url_without_keys_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    log = _refused(_web_only(tmp_path, database_url, without=NO_KEYS))
    assert "no API keys are configured" in log
    assert "KNEO_SERV_AUTH_ENABLED=false" in log


def test_explicit_opt_out_serves_open_and_warns_on_every_start(database_url: str, tmp_path: Path) -> None:
    topology = _web_only(tmp_path, database_url, without=NO_KEYS, KNEO_SERV_AUTH_ENABLED="false")
    try:
        topology.wait_http("/readyz", 90)
        answer = requests.get(topology.base_url + "/v1/runs", timeout=30)
        assert answer.status_code == 200
        assert "authentication is disabled" in (tmp_path / "web.log").read_text()
    finally:
        topology.stop()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"KNEO_SERV_DEPLOYMENT": "production", "KNEO_SERV_ADMIN_API_KEY": "replace-admin-token"},
            "the API key of 'admin' is still a placeholder",
        ),
        ({"KNEO_SERV_DEPLOYMENT": "production"}, "must be at least 16 characters"),
        (
            {
                "KNEO_SERV_DEPLOYMENT": "staging",
                "KNEO_SERV_API_KEYS": f"operator:{LONG_KEY}:operator",
                "KNEO_SERV_ADMIN_API_KEY": "",
                "KNEO_SERV_SPEC_SIGNING_KEY": LONG_KEY,
            },
            "KNEO_SERV_SPEC_SIGNING_KEY equals an API key",
        ),
        (
            {
                "KNEO_SERV_DEPLOYMENT": "staging",
                "KNEO_SERV_API_KEYS": f"operator:{LONG_KEY}:operator",
                "KNEO_SERV_ADMIN_API_KEY": "",
                "KNEO_SERV_OTEL_RECORD_RESULTS": "true",
            },
            "KNEO_SERV_OTEL_RECORD_RESULTS captures step payloads",
        ),
    ],
    ids=["placeholder-key", "short-key", "signing-key-is-an-api-key", "payload-capture"],
)
def test_bad_production_settings_refuse_to_start(
    database_url: str, tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    assert message in _refused(_web_only(tmp_path, database_url, **extra))


def test_unmarked_deployment_keeps_short_keys_working(database_url: str, tmp_path: Path) -> None:
    topology = _web_only(tmp_path, database_url, KNEO_SERV_ADMIN_API_KEY="replace-admin-token")
    try:
        topology.wait_http("/readyz", 90)
        headers = {"Authorization": f"Bearer {KEYS['viewer']}"}
        assert requests.get(topology.base_url + "/v1/runs", headers=headers, timeout=30).status_code == 200
    finally:
        topology.stop()


def test_strict_settings_that_pass_start(database_url: str, tmp_path: Path) -> None:
    topology = _web_only(
        tmp_path,
        database_url,
        KNEO_SERV_DEPLOYMENT="production",
        KNEO_SERV_API_KEYS=f"operator:{LONG_KEY}:operator",
        KNEO_SERV_ADMIN_API_KEY="",
        KNEO_SERV_SPEC_SIGNING_KEY="another-long-signing-secret-42",
    )
    try:
        topology.wait_http("/readyz", 90)
        headers = {"Authorization": f"Bearer {LONG_KEY}"}
        assert requests.get(topology.base_url + "/v1/runs", headers=headers, timeout=30).status_code == 200
    finally:
        topology.stop()


def test_metrics_needs_a_key_or_its_token_when_auth_is_on(database_url: str, tmp_path: Path) -> None:
    topology = start_topology(tmp_path, database_url, KNEO_SERV_METRICS_TOKEN="scrape-token-of-its-own")
    try:
        url = topology.base_url + "/metrics"
        assert requests.get(url, timeout=30).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
        for secret in ("scrape-token-of-its-own", KEYS["viewer"]):
            answer = requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
            assert answer.status_code == 200 and "kneo_queue_depth" in answer.text
    finally:
        topology.stop()


def test_metrics_without_token_still_needs_a_key(database_url: str, tmp_path: Path) -> None:
    topology = start_topology(tmp_path, database_url)
    try:
        url = topology.base_url + "/metrics"
        assert requests.get(url, timeout=30).status_code == 401
        answer = requests.get(url, headers={"X-Kneo-Api-Key": KEYS["operator"]}, timeout=30)
        assert answer.status_code == 200
    finally:
        topology.stop()


def _serve(tmp_path: Path, host: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in base_env(KNEO_SERV_STATE_DIR=str(tmp_path / "state")).items() if k not in NO_KEYS}
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(KNEO), "serve", "--host", host, "--port", str(free_port())],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, log


def test_embedded_server_refuses_a_public_bind_without_keys(tmp_path: Path) -> None:
    process, log = _serve(tmp_path, "0.0.0.0")
    assert process.wait(timeout=120) != 0
    assert "Refusing to serve without API keys on 0.0.0.0" in log.read_text()


def test_embedded_server_on_loopback_stays_open_and_says_so(tmp_path: Path) -> None:
    process, log = _serve(tmp_path, "127.0.0.1")
    try:
        deadline = time.monotonic() + 120
        while "ready on" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "auth: off (any client may call" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=60)
