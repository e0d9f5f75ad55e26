"""Flask admin commands: ``flask --app wsgi db upgrade``, ``flask --app wsgi sweeps reconcile``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

db_group = AppGroup("db", help="Database migrations.")
sweeps_group = AppGroup("sweeps", help="Run a beat sweep once, now.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    from kneo import migrate

    migrate.upgrade(current_app.extensions["kneo.engine"], revision)
    click.echo(f"database upgraded to {revision}")


@sweeps_group.command("reconcile")
def sweep_reconcile() -> None:
    """Re-dispatch lost step messages and steps whose lease expired."""
    from kneo.tasks import runtime
    from kneo.tasks.sweeps import run_reconcile

    runtime.configure(current_app.extensions["kneo.settings"])
    click.echo(f"re-dispatched {run_reconcile()} steps")


def register_admin_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(sweeps_group)
