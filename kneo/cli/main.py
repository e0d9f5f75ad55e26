"""The ``kneo`` command line."""

from __future__ import annotations

import logging

import click

from kneo import __version__
from kneo.cli.audit import audit_group
from kneo.cli.config_cmd import config_group
from kneo.cli.errors import CliError, json_errors
from kneo.cli.human import human_group
from kneo.cli.runs import run_command, runs_group
from kneo.cli.spec import spec_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kneo")
def cli() -> None:
    """Kneo Agent Platform: run YAML-defined agent workflows, decide human tasks, inspect runs.

    Exit status: 0 ok, 1 failure (the message starts with ✗), 2 usage error.
    """
    json_errors(False)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--reload", is_flag=True, help="Restart when a Python file of kneo or ./examples changes.")
def serve(host: str, port: int, reload: bool) -> None:
    """Start web, worker and beat in one process on the embedded default (SQLite, no servers)."""
    if reload:
        from kneo.cli.reload import serve_with_reload

        serve_with_reload(host, port)
        return
    from kneo.config import ConfigError, load_settings
    from kneo.embedded import StateDirBusy
    from kneo.embedded import serve as serve_embedded

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kneo.embedded").setLevel(logging.INFO)
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CliError(f"{exc} (see the settings table in README.md)") from None
    if not settings.embedded:
        raise click.UsageError("kneo serve runs the embedded platform; unset KNEO_SERV_BROKER_URL to use it.")
    try:
        serve_embedded(settings, host, port)
    except (StateDirBusy, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


@cli.group("service")
def service_group() -> None:
    """The service itself."""


service_group.add_command(serve)

cli.add_command(run_command)
cli.add_command(runs_group)
cli.add_command(human_group)
cli.add_command(config_group)
cli.add_command(spec_group)
cli.add_command(audit_group)


def main() -> None:
    cli()
