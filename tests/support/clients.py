"""The published 1.2-generation clients (kneo-dash, kneo-studio) run as black boxes for the tests.

They need Python >= 3.12, so they live in a virtualenv of their own, cached across sessions under
``~/.cache/kneo-test-clients`` (``KNEO_TEST_CLIENTS_CACHE``) and installed from the package index
with pip. No Python >= 3.12 on this machine is a loud failure, never a skip.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.services import free_port

CLIENT_PINS = ("kneo-dash==0.8.0", "kneo-studio==0.9.0")
CACHE = Path(os.environ.get("KNEO_TEST_CLIENTS_CACHE") or Path.home() / ".cache" / "kneo-test-clients")


class ClientsUnavailable(RuntimeError):
    """The clients cannot be installed or started here."""


def modern_python() -> str:
    """A Python >= 3.12 interpreter (on PATH, or a pyenv version)."""
    candidates = [shutil.which(name) for name in ("python3.13", "python3.12")]
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.1[2-9]*" / "bin" / "python3")))
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    raise ClientsUnavailable("no Python >= 3.12 found (python3.13/python3.12 on PATH or ~/.pyenv/versions/3.12+)")


def pinned_venv(pins: Sequence[str]) -> Path:
    """The cached virtualenv holding ``pins`` (created once per set of pins, under a lock)."""
    venv = CACHE / f"venv-{hashlib.sha256(' '.join(pins).encode()).hexdigest()[:12]}"
    ready = venv / ".installed"
    if ready.exists():
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            _run([modern_python(), "-m", "venv", str(venv)])
            _run([str(venv / "bin" / "pip"), "install", "--quiet", *pins])
            ready.write_text("\n".join(pins))
    return venv


def client_venv() -> Path:
    """The cached virtualenv holding ``CLIENT_PINS``."""
    return pinned_venv(CLIENT_PINS)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise ClientsUnavailable(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


@dataclass
class Bff:
    """A client's backend-for-frontend process on a loopback port."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_bff(app: str, env: Mapping[str, str], workdir: Path, ready_path: str, venv: Path | None = None) -> Bff:
    """Serve the ASGI ``app`` of ``venv`` (default: the clients') with uvicorn in ``workdir``; wait until it answers."""
    venv = venv or client_venv()
    port = free_port()
    log = workdir / "bff.log"
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(venv / "bin" / "python"), "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    bff = Bff(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(bff.base_url + ready_path, timeout=2).status_code < 500:
                return bff
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            bff.stop()
            raise ClientsUnavailable(f"{app} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def documented_routes(app: str, env: Mapping[str, str], workdir: Path) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every operation in the OpenAPI document of the client's ASGI ``app``."""
    module, attribute = app.split(":")
    script = (
        "import json, warnings; warnings.simplefilter('ignore'); "
        f"from {module} import {attribute} as app; "
        "print(json.dumps([[m.upper(), p] for p, ops in app.openapi()['paths'].items() for m in ops]))"
    )
    python = str(client_venv() / "bin" / "python")
    result = subprocess.run([python, "-c", script], cwd=workdir, env=dict(env), capture_output=True, text=True)
    if result.returncode != 0:
        raise ClientsUnavailable(f"cannot read the routes of {app}:\n{result.stderr[-2000:]}")
    return {(method, path) for method, path in json.loads(result.stdout.strip().splitlines()[-1])}


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a client: its own HOME and XDG directories, no platform settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNEO_", "XDG_", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env
