"""run documents: the stored response JSON of terminal runs; an index for the workflow filter

``runs.document`` and ``runs.list_document`` hold what ``GET /runs/{id}`` and ``GET /runs``
answer for a terminal run (NULL while the run can change; runs ended before this revision are
rendered from their row). ``(workflow_name, updated_at, id)`` serves the workflow filter of
``GET /runs`` in its default order (status, creation time and session have theirs already).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("list_document", sa.LargeBinary(), nullable=True))
        batch_op.create_index(
            "ix_runs_workflow_name_updated_at_id", ["workflow_name", "updated_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_workflow_name_updated_at_id")
        batch_op.drop_column("list_document")
        batch_op.drop_column("document")
