"""environment policy names: stored under the canonical spelling (trimmed, lower case)

Policies stored before names were normalised (``PROD``, ``prod ``) are unreachable by the
normalised lookups; each is renamed to its canonical spelling unless a policy already holds
that name (then the canonical one stays in force and the other is left as it was).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE environment_policies AS p
           SET environment = lower(trim(p.environment))
         WHERE p.environment <> lower(trim(p.environment))
           AND lower(trim(p.environment)) <> ''
           AND NOT EXISTS (
               SELECT 1 FROM environment_policies AS q WHERE q.environment = lower(trim(p.environment))
           )
           AND p.environment = (
               SELECT min(r.environment) FROM environment_policies AS r
                WHERE lower(trim(r.environment)) = lower(trim(p.environment))
           )
        """
    )


def downgrade() -> None:
    """Names stay canonical: the original spellings are not recorded."""
