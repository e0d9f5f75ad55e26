"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_ID = 74_110_042
# The migration bookkeeping table, named as the 0.4 schema and its operation guide name it.
VERSION_TABLE = "schema_migrations"
LEGACY_VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine`` (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several web processes may start at once: one migrates, the others wait.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        _rename_legacy_version_table(connection)
        command.upgrade(config, revision)


def _rename_legacy_version_table(connection: Connection) -> None:
    """Databases migrated before the bookkeeping table got its name keep their revision."""
    tables = set(inspect(connection).get_table_names())
    if LEGACY_VERSION_TABLE in tables and VERSION_TABLE not in tables:
        connection.execute(text(f"ALTER TABLE {LEGACY_VERSION_TABLE} RENAME TO {VERSION_TABLE}"))


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new revision from the models (developer tool)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
