"""The published kneo-serv 1.2.0, installed from PyPI into a cached venv and run as a black box."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.services import free_port

VERSION = "1.2.0"
# 1.2.0 serves with this FastAPI; newer releases change its request validation.
PINS = (f"kneo-serv[deploy]=={VERSION}", "fastapi==0.140.0")
CACHE = Path(os.environ.get("KNEO_REFERENCE_CACHE", str(Path.home() / ".cache" / "kneo-tests")))


class ReferenceUnavailable(RuntimeError):
    """The reference could not be installed or started (the test fails, it never skips)."""


def _is_312(candidate: str) -> bool:
    probe = subprocess.run(
        [candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"], capture_output=True, check=False
    )
    return probe.returncode == 0


def find_python() -> str:
    """A Python >= 3.12 interpreter (kneo-serv 1.2.0 needs it)."""
    candidates = [sys.executable, "python3.13", "python3.12"]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"))
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found and _is_312(found):
            return found
    raise ReferenceUnavailable("kneo-serv 1.2.0 needs Python >= 3.12 and none was found")


def ensure_venv() -> Path:
    """The cached venv holding kneo-serv 1.2.0 (created once, under a lock)."""
    venv = CACHE / f"kneo-serv-{VERSION}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"kneo-serv-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = venv / "bin" / "python"
        ready = [str(python), "-c", "import kneo_serv, uvicorn"]
        if python.exists() and subprocess.run(ready, capture_output=True, check=False).returncode == 0:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        steps = [[find_python(), "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", "-q", *PINS]]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ReferenceUnavailable(f"{' '.join(step)} failed:\n{result.stdout}\n{result.stderr}")
    return venv


@contextmanager
def reference_server(scratch: Path, timeout: float = 120) -> Iterator[str]:
    """Start kneo-serv 1.2.0 without API keys in ``scratch``; yields its base URL."""
    venv = ensure_venv()
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_") and k != "PYTHONPATH"}
    env["TMPDIR"] = str(scratch / "tmp")
    port = free_port()
    command = [str(venv / "bin" / "uvicorn"), "kneo_serv.service.app:app", "--host", "127.0.0.1", "--port", str(port)]
    log = open(scratch / "reference.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(command, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise ReferenceUnavailable(f"kneo-serv {VERSION} did not start:\n{_tail(scratch / 'reference.log')}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
