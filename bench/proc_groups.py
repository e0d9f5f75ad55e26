"""The processes of one running topology, by group: CPU accounting (cpu_account.py) and resident memory.

A group is a regular expression on the command line, written so that it matches only this
topology's processes on a shared machine: gunicorn by its bind address, Celery workers by their
node names (``<name>-<port>@host``), beat by its schedule file, PostgreSQL backends by the
database name in their process title, Redis by its port. No pattern matches its own text, so the
accounting process (whose command line carries the patterns) is never counted in a group.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CPU_ACCOUNT = Path("/work/shared/tools/cpu_account.py")


@dataclass(frozen=True)
class Groups:
    """NAME -> regex for the web, worker, beat, postgres and redis processes of one topology."""

    patterns: dict[str, str]

    @classmethod
    def of(cls, port: int, workdir: Path, database: str, redis_port: int) -> Groups:
        return cls(
            {
                "web": rf"gunicorn .*--bind 127\.0\.0\.1:{port}\b",
                "worker": rf"celery -A kneo\.tasks worker .*-n \S+-{port}@",
                "beat": rf"celery -A kneo\.tasks beat .*{re.escape(str(workdir))}/",
                "postgres": rf"^postgres: .* {re.escape(database)} ",
                "redis": rf"redis-server 127\.0\.0\.1:{redis_port}\b",
            }
        )

    def arguments(self) -> list[str]:
        return [arg for name, rx in self.patterns.items() for arg in ("--group", f"{name}={rx}")]

    def classify(self, command: str) -> str | None:
        for name, rx in self.patterns.items():
            if re.search(rx, command):
                return name
        return None


def cpu_account(tool: Path, groups: Groups, command: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``command`` under cpu_account.py; returns (CPU seconds per group, the command's JSON result)."""
    out = subprocess.run(
        [sys.executable, str(tool), *groups.arguments(), "--", *command],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    accounting = next((line for line in reversed(lines) if "cpu_s" in line), None)
    result = next((line for line in lines if "harness" in line), None)
    if accounting is None or result is None:
        raise RuntimeError(f"no result from {command[:3]}: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    accounting["extra"] = [line for line in lines if line is not accounting and line is not result]
    summary = out.stderr.strip().splitlines()
    print("\n".join(summary[:3]), flush=True)
    return accounting, result


def _command(pid: str) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace").strip()


def _memory_kb(pid: str) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS shares each page among the processes mapping it."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def memory(groups: Groups) -> dict[str, dict[str, Any]]:
    """Per group: summed RSS and PSS (MiB) and each process's RSS."""
    found: dict[str, dict[str, Any]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = groups.classify(_command(pid))
            if name is None:
                continue
            rss, pss = _memory_kb(pid)
        except OSError:
            continue
        entry = found.setdefault(name, {"rss_mib": 0.0, "pss_mib": 0.0, "processes": {}})
        entry["rss_mib"] = round(float(entry["rss_mib"]) + rss / 1024, 1)
        entry["pss_mib"] = round(float(entry["pss_mib"]) + pss / 1024, 1)
        entry["processes"][pid] = round(rss / 1024, 1)
    return found


def parent_of(pid: int) -> int:
    """The parent process id of ``pid`` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0
