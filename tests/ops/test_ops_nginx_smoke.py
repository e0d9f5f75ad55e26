"""The real-process topology behind nginx: nginx → gunicorn → PostgreSQL/Redis, worker, beat, Flower.

scripts/deployment_smoke.py --expect-auth passes through nginx on `/` and `/v1`, and the staging
release gate passes; nginx keeps X-Request-ID and answers oversize bodies with the API envelope.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.ops.test_ops_guide import SMOKE_CHECKS
from tests.ops.test_ops_support import private_redis
from tests.support.services import KEYS, ROOT, Topology, free_port, topology_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fronted(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    workdir = tmp_path_factory.mktemp("nginx")
    with private_redis(workdir / "redis") as broker:
        env = topology_env(module_database_url, 0, KNEO_SERV_BROKER_URL=broker, KNEO_SERV_MAX_BODY_BYTES="65536")
        topology = Topology(env, free_port(), workdir, worker_concurrency=2).start()
        try:
            topology.start_flower(free_port())
            topology.start_nginx(free_port())
            yield topology
        finally:
            topology.stop()


def _script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(ROOT / "scripts" / name), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def _key_args() -> list[str]:
    return [
        *("--admin-key", KEYS["admin"], "--operator-key", KEYS["operator"]),
        *("--reviewer-key", KEYS["reviewer"], "--viewer-key", KEYS["viewer"]),
    ]


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_deployment_smoke_through_nginx(fronted: Topology, prefix: str) -> None:
    result = _script(
        "deployment_smoke.py",
        "--base-url",
        fronted.nginx_url,
        "--api-prefix",
        prefix,
        *_key_args(),
        "--expect-auth",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    names = [check["name"] for check in summary["checks"]]
    assert names == SMOKE_CHECKS
    assert all(check["ok"] for check in summary["checks"])


def test_nginx_keeps_request_id_and_limits_bodies(fronted: Topology) -> None:
    base = fronted.nginx_url
    request_id = f"ops-{uuid.uuid4().hex}"
    answer = requests.get(f"{base}/v1/healthz", headers={"X-Request-ID": request_id}, timeout=10)
    assert answer.headers["X-Request-ID"] == request_id
    generated = requests.get(f"{base}/healthz", timeout=10).headers["X-Request-ID"]
    assert len(generated) == 32  # nginx's $request_id, passed to and echoed by the app
    access_log = fronted.workdir / "nginx-access.log"
    assert request_id in access_log.read_text()
    too_big = requests.post(
        f"{base}/v1/runs",
        data=b"x" * 70_000,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEYS['operator']}"},
        timeout=10,
    )
    assert too_big.status_code == 413
    assert too_big.json()["detail"]["error"] == "payload_too_large"


def test_nginx_keeps_metrics_internal_and_readyz_private(fronted: Topology) -> None:
    for path in ("/metrics", "/v1/metrics"):
        assert requests.get(fronted.nginx_url + path, timeout=10).status_code == 404
    assert requests.get(fronted.base_url + "/metrics", timeout=10).status_code == 401, "auth is on: a key is needed"
    scrape = requests.get(
        fronted.base_url + "/metrics", headers={"Authorization": f"Bearer {KEYS['viewer']}"}, timeout=10
    )
    assert scrape.status_code == 200, "the api itself serves it"
    for path in ("/readyz", "/v1/readyz"):
        assert requests.get(fronted.nginx_url + path, timeout=10).status_code == 200, "loopback is private"


def test_flower_sees_the_workers(fronted: Topology) -> None:
    flower = fronted.flower_url
    assert requests.get(f"{flower}/healthcheck", timeout=10).text == "OK"


def test_staging_release_gate_passes(fronted: Topology) -> None:
    result = _script(
        "staging_release_gate.py",
        "--base-url",
        fronted.nginx_url,
        "--api-prefix",
        "/v1",
        *_key_args(),
        "--duration",
        "3",
        "--concurrency",
        "2",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["latency"]["completed"] > 0 and report["latency"]["failure_count"] == 0


def test_staging_release_gate_fails_on_a_bad_key(fronted: Topology) -> None:
    result = _script(
        "staging_release_gate.py",
        "--base-url",
        fronted.nginx_url,
        "--operator-key",
        "wrong-key",
        "--viewer-key",
        KEYS["viewer"],
        "--duration",
        "1",
        "--json",
        timeout=120,
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["ok"] and report["latency"]["failure_count"] > 0
