"""CLI errors: printed as ``✗ message`` on stderr, exit status 1 (usage errors keep click's 2)."""

from __future__ import annotations

from typing import IO, Any

import click


class CliError(click.ClickException):
    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"✗ {self.format_message()}", err=True)
