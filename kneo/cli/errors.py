"""CLI errors and the exit-code rule: 0 ok, 1 failure, 2 usage error.

A failure prints ``✗ message`` (red on a terminal) and an optional ``hint:`` line on stderr; with
``--json`` it prints ``{"ok": false, "error": {...}}`` on stderr instead (stdout stays for results).
No traceback is shown for a user's mistake.
"""

from __future__ import annotations

import json
from typing import IO, Any

import click

_json_errors = False


def json_errors(enabled: bool) -> None:
    """Make failures print as JSON (set by ``--json``)."""
    global _json_errors
    _json_errors = enabled


class CliError(click.ClickException):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code

    def show(self, file: IO[Any] | None = None) -> None:
        if _json_errors:
            error = {"message": self.format_message(), "code": self.code, "hint": self.hint}
            click.echo(json.dumps({"ok": False, "error": error}, indent=2, sort_keys=True), err=True)
            return
        click.echo(click.style(f"✗ {self.format_message()}", fg="red"), err=True)
        if self.hint:
            click.echo(f"  hint: {self.hint}", err=True)
