"""Output helpers: JSON, aligned tables, key/value blocks and a progress display on stderr."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str = "(none)") -> None:
    if not rows:
        click.echo(empty)
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def fields(pairs: Sequence[tuple[str, Any]], width: int = 100) -> None:
    label = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        click.echo(f"{key.ljust(label)}  {_cell(value, width)}")


@contextmanager
def progress(message: str, enabled: bool | None = None) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while the block runs (by default only on a terminal)."""
    if not (sys.stderr.isatty() if enabled is None else enabled):
        yield
        return
    stop = threading.Event()
    started = time.monotonic()

    def spin() -> None:
        frame = 0
        while not stop.wait(0.1):
            elapsed = time.monotonic() - started
            sys.stderr.write(f"\r{SPINNER[frame % len(SPINNER)]} {message} {elapsed:5.1f}s")
            sys.stderr.flush()
            frame += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sys.stderr.write(f"\r{' ' * (len(message) + 12)}\r")
        sys.stderr.flush()
