"""Output helpers: JSON, aligned tables, key/value blocks, colour and a progress line on stderr.

Colour is used only on a terminal (click strips it when the output is piped) and never in JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STATUS_COLOURS = {"completed": "green", "blocked": "yellow", "running": "cyan"}


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def ok(text: str) -> str:
    return click.style(text, fg="green")


def warn(text: str) -> str:
    return click.style(text, fg="yellow")


def status(value: Any) -> str | None:
    """A run status, coloured by outcome (green done, yellow waiting, red failed)."""
    if value is None:
        return None
    return click.style(str(value), fg=STATUS_COLOURS.get(str(value), "red"))


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


def fields(pairs: Sequence[tuple[str, Any]], width: int = 100, skip_empty: bool = False) -> None:
    """``Label  value`` lines; with ``skip_empty`` the rows without a value are left out."""
    shown = [(k, v) for k, v in pairs if not (skip_empty and v in (None, "", []))]
    label = max(len(k) for k, _ in shown)
    for key, value in shown:
        click.echo(f"{key.ljust(label)}  {value if _styled(value) else _cell(value, width)}")


def _styled(value: Any) -> bool:
    return isinstance(value, str) and "\x1b[" in value


@contextmanager
def progress(message: str, enabled: bool | None = None) -> Iterator[Callable[[str], None]]:
    """A spinner, a message and the elapsed time on stderr while the block runs (only on a terminal).

    The block receives a function that replaces the message (e.g. with the step a run is at).
    """
    current = [message]

    def update(text: str) -> None:
        current[0] = text

    if not (sys.stderr.isatty() if enabled is None else enabled):
        yield update
        return
    stop = threading.Event()
    started = time.monotonic()
    drawn = [0]

    def spin() -> None:
        frame = 0
        while not stop.wait(0.1):
            line = f"{SPINNER[frame % len(SPINNER)]} {current[0]} {time.monotonic() - started:5.1f}s"
            sys.stderr.write("\r" + line.ljust(drawn[0]))
            sys.stderr.flush()
            drawn[0] = max(drawn[0], len(line))
            frame += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield update
    finally:
        stop.set()
        thread.join()
        sys.stderr.write(f"\r{' ' * drawn[0]}\r")
        sys.stderr.flush()
