"""run documents: the stored response JSON of terminal runs, and indexes for every run list filter

``runs.document`` and ``runs.list_document`` hold what ``GET /runs/{id}`` and ``GET /runs``
answer for a terminal run (NULL while the run can change; runs ended before this revision are
rendered from their row). The indexes let each filter of ``GET /runs`` read its first page in
the default order without a sort.

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


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("list_document")
        batch_op.drop_column("document")
