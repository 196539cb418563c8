"""A forward-only item's name kana and birth date, keyed at the counter (issue 13): sealed
with the document's key, with their blind-index digests, so 突合 confirms a list row against
a 年金生活者支援給付金 claim by two attributes as it does against any other form.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("register_entry") as batch:
        batch.add_column(sa.Column("identity_sealed", sa.LargeBinary()))
        batch.add_column(sa.Column("identity_digests", sa.JSON(), nullable=False,
                                   server_default="{}"))
        batch.add_column(sa.Column("identity_key_id", sa.String(16)))
        batch.add_column(sa.Column("identified_by", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("register_entry") as batch:
        for column in ("identified_by", "identity_key_id", "identity_digests",
                       "identity_sealed"):
            batch.drop_column(column)
