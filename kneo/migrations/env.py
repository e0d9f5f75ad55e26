"""Alembic environment: runs against the connection handed over by kneo.migrate."""

from __future__ import annotations

from alembic import context

from kneo.migrate import VERSION_TABLE
from kneo.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through kneo.migrate
    raise RuntimeError("Run migrations through kneo.migrate or `flask --app wsgi db upgrade`.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
