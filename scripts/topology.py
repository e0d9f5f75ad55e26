#!/usr/bin/env python3
"""Start the production topology from real processes on loopback (no Docker engine needed).

gunicorn (wsgi:app), a Celery worker, Celery beat and optionally Flower and nginx, against
PostgreSQL and Redis. Used by the test suite and the benchmarks; also a local operator tool:

    python scripts/topology.py --port 8000 --database-url postgresql://postgres@127.0.0.1/kneo
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Topology:
    """A running set of kneo processes."""

    env: dict[str, str]
    port: int
    workdir: Path
    worker_concurrency: int = 4
    web_workers: int = 2
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self) -> None:
        self._spawn(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "wsgi:app"],
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

    def start_beat(self) -> None:
        self._spawn(
            "beat",
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
                str(self.workdir / "beat-schedule"),
            ],
        )

    def start_flower(self, port: int) -> None:
        self._spawn(
            "flower",
            [sys.executable, "-m", "celery", "-A", "kneo.tasks", "flower", f"--port={port}", "--address=127.0.0.1"],
        )

    def start(self) -> Topology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_web()
        self.wait_http("/readyz", 60)
        self.start_worker()
        self.start_beat()
        return self

    def wait_http(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.processes["web"].poll() is not None:
                raise RuntimeError(f"web exited: {(self.workdir / 'web.log').read_text()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.base_url}{path} not ready after {timeout}s")

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
    parser.add_argument("--flower-port", type=int)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or KNEO_SERV_DATABASE_URL) is required")
    env = {**os.environ, "KNEO_SERV_DATABASE_URL": args.database_url, "KNEO_SERV_BROKER_URL": args.broker_url}
    topology = Topology(env, args.port, args.workdir, args.worker_concurrency, args.web_workers).start()
    if args.flower_port:
        topology.start_flower(args.flower_port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"kneo topology up at {topology.base_url} (logs in {args.workdir}); Ctrl-C stops it", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
