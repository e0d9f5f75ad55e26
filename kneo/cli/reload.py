"""``kneo serve --reload``: run the server as a child process and restart it when code changes.

Watched: the ``kneo`` package and the ``examples`` package under the working directory (``*.py``).
The child is stopped with SIGTERM (a clean shutdown that keeps every run) before the next start.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

import click

import kneo

POLL_SECONDS = 1.0


def watched_dirs() -> list[Path]:
    dirs = [Path(kneo.__file__).parent]
    examples = Path.cwd() / "examples"
    return [*dirs, examples] if examples.is_dir() else dirs


def snapshot(dirs: Iterable[Path]) -> dict[Path, float]:
    """Modification times of every Python file under ``dirs``."""
    found: dict[Path, float] = {}
    for directory in dirs:
        for path in directory.rglob("*.py"):
            try:
                found[path] = path.stat().st_mtime
            except OSError:
                continue
    return found


def serve_with_reload(host: str, port: int) -> None:
    """Start ``kneo serve`` and restart it on every change until SIGTERM or SIGINT."""
    command = [sys.executable, "-c", "from kneo.cli.main import main; main()", "serve", "--host", host]
    command += ["--port", str(port)]
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    dirs = watched_dirs()
    while not stopping:
        seen = snapshot(dirs)
        child = subprocess.Popen(command)
        while not stopping and child.poll() is None and snapshot(dirs) == seen:
            time.sleep(POLL_SECONDS)
        if child.poll() is None:
            if not stopping:
                click.echo("kneo serve --reload: code changed, restarting", err=True)
            child.send_signal(signal.SIGTERM)
            child.wait()
        elif not stopping:
            raise SystemExit(child.returncode)
