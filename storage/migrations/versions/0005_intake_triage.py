"""intake triage and the quarantine room: flags on a file, duplicates of a quarantined file
counted, and the quarantine's own decisions (release, disposal by two people); stage
latency buckets for the metrics

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("times_received", sa.Integer(), nullable=False,
                                      server_default="1"))
        batch_op.add_column(sa.Column("quarantine_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("quarantine_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("quarantine_requested_by", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("quarantine_decided_by", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("quarantine_decided_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index("ix_source_file_quarantine_state", ["quarantine_state"])
    op.execute("UPDATE source_file SET quarantine_state = 'held' WHERE status = 'rejected'")
    op.create_table(
        "stage_latency",
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("le", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("stage", "le"),
    )


def downgrade() -> None:
    op.drop_table("stage_latency")
    with op.batch_alter_table("source_file", schema=None) as batch_op:
        batch_op.drop_index("ix_source_file_quarantine_state")
        for column in ("quarantine_decided_at", "quarantine_decided_by",
                       "quarantine_requested_by", "quarantine_note", "quarantine_state",
                       "times_received", "flags"):
            batch_op.drop_column(column)
