"""The analyser's confidence with each learning event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    # Nullable: the events already held, and those from older edges, carry none.
    with op.batch_alter_table("learning_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_learning_events_confidence"),
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("learning_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_learning_events_confidence"), type_="check")
        batch_op.drop_column("confidence")
