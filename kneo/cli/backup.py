"""Backup admin commands: ``flask --app wsgi backup sqlite|restore-sqlite|pg-dump|pg-restore``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from kneo import maintenance
from kneo.config import Settings

backup_group = AppGroup("backup", help="Back up and restore the platform database.")


def _settings() -> Settings:
    return current_app.extensions["kneo.settings"]


def _fail(exc: maintenance.MaintenanceError) -> None:
    raise click.ClickException(str(exc))


def _echo(result: dict[str, object]) -> None:
    click.echo(json.dumps(result, sort_keys=True))


@backup_group.command("sqlite")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def backup_sqlite(output: Path) -> None:
    """Copy the embedded SQLite database to OUTPUT (online: the platform may keep running)."""
    settings = _settings()
    if settings.database_url:
        raise click.UsageError("the platform uses PostgreSQL here: use `backup pg-dump`")
    try:
        _echo(maintenance.backup_sqlite(settings.sqlite_path, output))
    except maintenance.MaintenanceError as exc:
        _fail(exc)


@backup_group.command("restore-sqlite")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Restore even if a write-ahead log shows an open connection.")
def restore_sqlite(backup: Path, force: bool) -> None:
    """Replace the embedded SQLite database with BACKUP (refused while the platform runs)."""
    settings = _settings()
    if settings.database_url:
        raise click.UsageError("the platform uses PostgreSQL here: use `backup pg-restore`")
    current_app.extensions["kneo.engine"].dispose()  # this command's own connections
    try:
        _echo(maintenance.restore_sqlite(backup, settings.sqlite_path, force=force))
    except maintenance.MaintenanceError as exc:
        _fail(exc)


@backup_group.command("pg-dump")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def pg_dump(output: Path) -> None:
    """Dump the PostgreSQL data (not the schema) to OUTPUT (pg_dump custom format)."""
    settings = _settings()
    if not settings.database_url:
        raise click.UsageError("KNEO_SERV_DATABASE_URL is not set: use `backup sqlite`")
    try:
        _echo(maintenance.pg_dump(settings.database_url, output))
    except maintenance.MaintenanceError as exc:
        _fail(exc)


@backup_group.command("pg-restore")
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def pg_restore(dump: Path) -> None:
    """Load DUMP into this (migrated, empty) PostgreSQL database in one transaction."""
    settings = _settings()
    if not settings.database_url:
        raise click.UsageError("KNEO_SERV_DATABASE_URL is not set: use `backup restore-sqlite`")
    try:
        _echo(maintenance.pg_restore(current_app.extensions["kneo.engine"], settings.database_url, dump))
    except maintenance.MaintenanceError as exc:
        _fail(exc)
