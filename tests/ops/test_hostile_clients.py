"""Hostile clients do not starve honest ones: 200 of them through the nginx front, bounded in time.

Slow bodies (a byte a second), slow headers, oversized bodies and malformed requests hammer nginx
while a well-behaved client keeps creating runs and reading health; every honest request must be
answered within its normal timeout. nginx reads headers and bodies in full before gunicorn sees
anything (deploy/nginx.conf), so gunicorn's threads never wait on a hostile client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.ops.test_ops_support import private_redis
from tests.support import specs
from tests.support.services import KEYS, Topology, free_port, topology_env

pytestmark = pytest.mark.e2e

HOSTILE = 200
HONEST_SECONDS = 15.0
HONEST_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def fronted(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    workdir = tmp_path_factory.mktemp("hostile")
    with private_redis(workdir / "redis") as broker:
        env = topology_env(module_database_url, 0, KNEO_SERV_BROKER_URL=broker)
        topology = Topology(env, free_port(), workdir, worker_concurrency=2).start()
        try:
            topology.start_nginx(free_port())
            yield topology
        finally:
            topology.stop()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(2)
    return sock


def _slow_body(port: int, stop: threading.Event) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: kneo\r\nContent-Type: application/json\r\n")
        sock.sendall(b"Content-Length: 4000\r\n\r\n{")
        while not stop.wait(1.0):
            sock.sendall(b" ")


def _slow_headers(port: int, stop: threading.Event) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET /v1/runs HTTP/1.1\r\n")
        while not stop.wait(1.0):
            sock.sendall(b"X-a: b\r\n")


def _oversized(port: int, stop: threading.Event) -> None:
    chunk = b"x" * 65536
    while not stop.is_set():
        with _connect(port) as sock:
            sock.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: kneo\r\nContent-Length: 500000000\r\n\r\n")
            for _ in range(64):
                if stop.is_set():
                    return
                sock.sendall(chunk)


def _malformed(port: int, stop: threading.Event) -> None:
    requests_ = [
        b"\x16\x03\x01garbage\r\n\r\n",
        b"POST /v1/runs HTTP/1.1\r\nHost: kneo\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnot-chunked\r\n",
        b"POST /v1/runs HTTP/1.1\r\nHost: kneo\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: kneo\r\n\r\n",
    ]
    index = 0
    while not stop.is_set():
        with _connect(port) as sock:
            sock.sendall(requests_[index % len(requests_)])
            sock.recv(4096)
        index += 1


def _hostile(kind: Callable[[int, threading.Event], None], port: int, stop: threading.Event) -> None:
    """Run one hostile client until ``stop``; reconnect when nginx drops it (that is its job)."""
    while not stop.is_set():
        try:
            kind(port, stop)
        except OSError:
            stop.wait(0.2)


def test_hostile_clients_leave_honest_requests_answered_in_time(fronted: Topology) -> None:
    port = fronted.nginx_port
    assert port is not None
    stop = threading.Event()
    kinds = [_slow_body, _slow_headers, _oversized, _malformed]
    threads = [
        threading.Thread(target=_hostile, args=(kinds[i % len(kinds)], port, stop), daemon=True) for i in range(HOSTILE)
    ]
    for thread in threads:
        thread.start()
    time.sleep(2)
    latencies: list[float] = []
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {KEYS['operator']}"}
    body = {"input": "honest", "spec": specs.echo_chain(1)}
    deadline = time.monotonic() + HONEST_SECONDS
    try:
        while time.monotonic() < deadline:
            for method, path, payload in (("GET", "/healthz", None), ("POST", "/v1/runs", body)):
                started = time.monotonic()
                try:
                    answer = requests.request(
                        method, fronted.nginx_url + path, json=payload, headers=headers, timeout=HONEST_TIMEOUT
                    )
                    if answer.status_code != 200 or (payload and answer.json()["status"] != "completed"):
                        failures.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
                except requests.RequestException as exc:
                    failures.append(f"{method} {path}: {type(exc).__name__}")
                latencies.append(time.monotonic() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not failures, failures[:5]
    assert len(latencies) >= 10 and max(latencies) < HONEST_TIMEOUT
    assert sum(t.is_alive() for t in threads) == 0
