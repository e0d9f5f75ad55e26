"""Flask admin commands: ``flask --app wsgi db upgrade``, ``flask --app wsgi sweeps <name>``,
``flask --app wsgi audit verify``.

Sweeps: ``reconcile``, ``human-expiry``, ``deadlines``, ``retention`` (the beat sweeps, run once, now).
"""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

db_group = AppGroup("db", help="Database migrations.")
sweeps_group = AppGroup("sweeps", help="Run a beat sweep once, now.")
audit_group = AppGroup("audit", help="The tamper-evident audit trail.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    from kneo import migrate

    migrate.upgrade(current_app.extensions["kneo.engine"], revision)
    click.echo(f"database upgraded to {revision}")


def _configure() -> None:
    from kneo.tasks import runtime

    runtime.configure(current_app.extensions["kneo.settings"])


def _echo_counts(sweep: str, counts: dict[str, int]) -> None:
    click.echo(json.dumps({"sweep": sweep, "counts": counts}, sort_keys=True))


@sweeps_group.command("reconcile")
def sweep_reconcile() -> None:
    """Re-dispatch lost step messages and steps whose lease expired."""
    from kneo.tasks.sweeps import run_reconcile

    _configure()
    click.echo(f"re-dispatched {run_reconcile()} steps")


@sweeps_group.command("human-expiry")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(min=1), help="Tasks per pass.")
def sweep_human_expiry(limit: int) -> None:
    """Apply on_timeout (fail, continue, escalate) to human tasks past their expiry."""
    from kneo.tasks.sweeps import run_human_expiry

    _configure()
    _echo_counts("human-expiry", run_human_expiry(limit))


@sweeps_group.command("deadlines")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(min=1), help="Runs per pass.")
def sweep_deadlines(limit: int) -> None:
    """Time out running and blocked runs past their deadline."""
    from kneo.tasks.sweeps import run_deadlines

    _configure()
    _echo_counts("deadlines", run_deadlines(limit))


@sweeps_group.command("retention")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1), help="Rows per statement.")
def sweep_retention(batch_size: int) -> None:
    """Delete finished runs, checkpoints, trace and audit events, idempotency records past their windows."""
    from kneo.tasks.sweeps import run_retention

    _configure()
    _echo_counts("retention", run_retention(batch_size))


@audit_group.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 naming the first altered, inserted or deleted event."""
    from kneo.audit.verify import ChainBroken, verify_chain
    from kneo.db import is_sqlite

    with current_app.extensions["kneo.sessions"]() as session:
        if not is_sqlite(session):  # one snapshot: writers may append while the chain is walked
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            report = verify_chain(session)
        except ChainBroken as exc:
            click.echo(f"audit chain BROKEN: {exc}", err=True)
            raise SystemExit(1) from None
    span = f"events {report.first_seq}..{report.last_seq}" if report.checked else "no chained events"
    click.echo(f"audit chain OK: {report.checked} events verified ({span}); {report.predating} predate the chain")


def register_admin_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(sweeps_group)
    app.cli.add_command(audit_group)
    from kneo.cli.backup import backup_group

    app.cli.add_command(backup_group)
