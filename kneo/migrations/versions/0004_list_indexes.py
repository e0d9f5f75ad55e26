"""list indexes: every default list order is served by an index

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_updated_at")
        batch_op.drop_index("ix_runs_status")
        batch_op.create_index("ix_runs_updated_at_id", ["updated_at", "id"], unique=False)
        batch_op.create_index("ix_runs_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_runs_status_updated_at_id", ["status", "updated_at", "id"], unique=False)
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_human_tasks_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_human_tasks_status_created_at", ["status", "created_at", "id"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_created_at")
        batch_op.create_index("ix_audit_events_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_created_at_id")
        batch_op.create_index("ix_audit_events_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_human_tasks_status_created_at")
        batch_op.drop_index("ix_human_tasks_status_id")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_updated_at_id")
        batch_op.drop_index("ix_runs_created_at_id")
        batch_op.drop_index("ix_runs_updated_at_id")
        batch_op.create_index("ix_runs_status", ["status"], unique=False)
        batch_op.create_index("ix_runs_updated_at", ["updated_at"], unique=False)
