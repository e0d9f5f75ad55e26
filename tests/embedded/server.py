"""Start the real ``kneo serve`` (the embedded default) as a subprocess for the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.support.services import ROOT, base_env, free_port

KNEO = ROOT / ".venv" / "bin" / "kneo"
LISTEN = "0A"  # TCP state in /proc/net/tcp


def embedded_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of ``kneo serve``: no database or broker URL, API keys on (auth exercised)."""
    return base_env(KNEO_SERV_STATE_DIR=str(state_dir), **extra)


class EmbeddedServer:
    """One ``kneo serve`` process on a free port, with its log in the work directory."""

    def __init__(self, workdir: Path, cwd: Path | None = None, **extra: str) -> None:
        self.workdir = workdir
        self.cwd = cwd or workdir
        self.state_dir = workdir / "state"
        self.env = embedded_env(self.state_dir, **extra)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.command = ["serve"]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sqlite_path(self) -> Path:
        return self.state_dir / "kneo_runs.sqlite"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    def start(self, timeout: float = 60, attempts: int = 3) -> EmbeddedServer:
        """Start on the chosen port (a new one when another process took it) and wait for /readyz."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            self.starts += 1
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [str(KNEO), *self.command, "--port", str(self.port)],
                    cwd=self.cwd,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self.wait_ready(timeout):
                return self
            self.process = None
            self.port = free_port()
        raise RuntimeError(f"kneo serve could not bind a port: {self.log_path.read_text()[-3000:]}")

    def wait_ready(self, timeout: float) -> bool:
        """True once our process answers /readyz; False when its port was taken by another process."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.log_path.read_text():
                    return False
                raise RuntimeError(f"kneo serve exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                ready = requests.get(self.base_url + "/readyz", timeout=2).status_code == 200
                if ready and self.port in self.sockets(listening=True):
                    return True
            time.sleep(0.1)
        raise TimeoutError(f"{self.base_url}/readyz not ready after {timeout}s: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the process and wait for it; returns its exit code."""
        process, self.process = self.process, None
        if process is None:
            return 0
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        """Read the embedded SQLite database directly."""
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.close()

    def sockets(self, listening: bool = False) -> set[int]:
        """Ports of this process's TCP sockets from /proc: local listening ports, or remote ports."""
        assert self.process is not None
        pid = self.process.pid
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        ports = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] not in inodes or (fields[3] == LISTEN) != listening:
                    continue
                ports.add(int(fields[1 if listening else 2].split(":")[-1], 16))
        return ports
