#!/usr/bin/env python3
"""Start the production topology from real processes on loopback (no Docker engine needed).

gunicorn (wsgi:app), a Celery worker, Celery beat and optionally Flower and nginx, against
PostgreSQL and Redis. Used by the test suite and the benchmarks; also a local operator tool:

    python scripts/topology.py --port 8000 --database-url postgresql://postgres@127.0.0.1/kneo \
        --nginx-port 8080 --flower-port 5555

The web refuses to start on a database without API keys: export ``KNEO_SERV_API_KEYS`` (and
``KNEO_SERV_ADMIN_API_KEY``) first, or ``KNEO_SERV_AUTH_ENABLED=false`` for an open loopback
server (the shape diff against the reference drives kneo without keys).

Every process shares one fresh ``PROMETHEUS_MULTIPROC_DIR`` (``<workdir>/metrics``) so that
``/metrics`` sums the samples of all gunicorn and Celery worker processes. nginx (plain HTTP on
127.0.0.1) is rendered from ``deploy/nginx/topology.conf.template``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "topology.conf.template"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_private_redis(workdir: Path, timeout: float = 20) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of its own on a free loopback port, no persistence; returns (process, URL).

    A private broker keeps one topology's Celery messages apart from any other sharing the
    machine (a message consumed by another topology's worker would never be claimed).
    """
    import redis

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return process, url
        except redis.RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)


@dataclass
class Topology:
    """A running set of kneo processes."""

    env: dict[str, str]
    port: int
    workdir: Path
    worker_concurrency: int = 4
    web_workers: int = 2
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    nginx_port: int | None = None
    flower_port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def nginx_url(self) -> str:
        if self.nginx_port is None:
            raise RuntimeError("nginx was not started")
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def flower_url(self) -> str:
        if self.flower_port is None:
            raise RuntimeError("flower was not started")
        return f"http://127.0.0.1:{self.flower_port}"

    def _spawn(
        self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None, without: tuple[str, ...] = ()
    ) -> None:
        env = {key: value for key, value in {**self.env, **(extra_env or {})}.items() if key not in without}
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_web(self) -> None:
        self._spawn(
            "web",
            # The bind address also on the command line, so each topology's web processes can be told apart.
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "deploy/gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            {"KNEO_SERV_BIND": f"127.0.0.1:{self.port}", "KNEO_SERV_WEB_WORKERS": str(self.web_workers)},
        )

    def start_worker(self, name: str = "worker") -> None:
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kneo.tasks",
                "worker",
                "-Q",
                "kneo.steps,kneo.sweeps",
                "-c",
                str(self.worker_concurrency),
                "-n",
                f"{name}-{self.port}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
        )

    def start_beat(self, name: str = "beat") -> None:
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kneo.tasks",
                "beat",
                "--loglevel",
                "WARNING",
                "-s",
                str(self.workdir / f"{name}-schedule"),
            ],
        )

    def start_flower(self, port: int, timeout: float = 60) -> None:
        self.flower_port = port
        self._spawn(
            "flower",
            [sys.executable, "-m", "celery", "-A", "kneo.tasks", "flower", f"--port={port}", "--address=127.0.0.1"],
            without=("PROMETHEUS_MULTIPROC_DIR",),  # Flower's own metrics stay out of the platform's
        )
        self.wait_http("/healthcheck", timeout, base_url=self.flower_url, process="flower")

    def render_nginx_config(self, port: int) -> Path:
        """Write ``<workdir>/nginx.conf`` for a loopback nginx on ``port`` in front of gunicorn."""
        client_timeout = float(self.env.get("KNEO_SERV_CLIENT_TIMEOUT") or 120)
        user = pwd.getpwuid(os.geteuid()).pw_name
        values = {
            "USER_DIRECTIVE": f"user {user};" if os.geteuid() == 0 else "",
            "WORKDIR": str(self.workdir.resolve()),
            "UPSTREAM_PORT": str(self.port),
            "LISTEN_PORT": str(port),
            "MAX_BODY_BYTES": str(int(self.env.get("KNEO_SERV_MAX_BODY_BYTES") or 1_048_576)),
            "PROXY_TIMEOUT": str(int(client_timeout) + 30),
        }
        text = NGINX_TEMPLATE.read_text()
        for name, value in values.items():
            text = text.replace(f"@@{name}@@", value)
        (self.workdir / "nginx-tmp").mkdir(exist_ok=True)
        target = self.workdir / "nginx.conf"
        target.write_text(text)
        return target

    def start_nginx(self, port: int, timeout: float = 30) -> None:
        """nginx (plain HTTP on loopback) in front of gunicorn; needs the ``nginx`` binary."""
        binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin")
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install -y nginx)")
        config = self.render_nginx_config(port)
        self.nginx_port = port
        self._spawn(
            "nginx", [binary, "-p", str(self.workdir), "-e", str(self.workdir / "nginx-error.log"), "-c", str(config)]
        )
        self.wait_http("/healthz", timeout, base_url=self.nginx_url, process="nginx")

    def prepare_metrics_dir(self) -> None:
        """A fresh multiprocess metrics directory shared by every process (unless the env names one)."""
        if "PROMETHEUS_MULTIPROC_DIR" not in self.env:
            self.env["PROMETHEUS_MULTIPROC_DIR"] = str(self.workdir / "metrics")
        metrics = Path(self.env["PROMETHEUS_MULTIPROC_DIR"])
        if metrics.is_dir():
            for stale in metrics.glob("*.db"):
                stale.unlink()
        metrics.mkdir(parents=True, exist_ok=True)

    def start(self) -> Topology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare_metrics_dir()
        self.start_web()
        self.wait_http("/readyz", 60)
        self.start_worker()
        self.start_beat()
        return self

    def wait_http(self, path: str, timeout: float, base_url: str | None = None, process: str = "web") -> None:
        base_url = base_url or self.base_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base_url + path, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.processes[process].poll() is not None:
                log = self.workdir / ("nginx-error.log" if process == "nginx" else f"{process}.log")
                raise RuntimeError(f"{process} exited: {log.read_text()[-3000:] if log.exists() else ''}")
            time.sleep(0.2)
        raise TimeoutError(f"{base_url}{path} not ready after {timeout}s")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes[name]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for name in list(self.processes):
            try:
                self.processes[name].wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(name)
            self.processes.pop(name, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database-url", default=os.environ.get("KNEO_SERV_DATABASE_URL"))
    parser.add_argument("--broker-url", default=os.environ.get("KNEO_SERV_BROKER_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--workdir", type=Path, default=ROOT / ".kneo" / "topology")
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--flower-port", type=int, help="also start Flower on this loopback port")
    parser.add_argument("--nginx-port", type=int, help="also start nginx (plain HTTP, loopback) on this port")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or KNEO_SERV_DATABASE_URL) is required")
    env = {**os.environ, "KNEO_SERV_DATABASE_URL": args.database_url, "KNEO_SERV_BROKER_URL": args.broker_url}
    topology = Topology(env, args.port, args.workdir, args.worker_concurrency, args.web_workers)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        topology.start()
        if args.flower_port:
            topology.start_flower(args.flower_port)
        if args.nginx_port:
            topology.start_nginx(args.nginx_port)
        fronts = [topology.base_url] + ([topology.nginx_url + " (nginx)"] if args.nginx_port else [])
        fronts += [topology.flower_url + " (flower)"] if args.flower_port else []
        print(f"kneo topology up at {', '.join(fronts)} (logs in {args.workdir}); Ctrl-C stops it", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
