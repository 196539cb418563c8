"""A page set aside in quarantine is read again or disposed of on its own: its state in the
room (read again, disposal requested, disposed), who asked and who decided, and why

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.add_column(sa.Column("set_aside_state", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("set_aside_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("set_aside_requested_by", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("set_aside_decided_by", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("set_aside_decided_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        for column in ("set_aside_decided_at", "set_aside_decided_by", "set_aside_requested_by",
                       "set_aside_note", "set_aside_state"):
            batch_op.drop_column(column)
