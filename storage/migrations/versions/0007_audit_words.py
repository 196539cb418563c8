"""A person's words in the audit log sealed under keys of their own (storage/audit_words.py):
the table of those keys, which erasure deletes from (it is not append-only, unlike the chain).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_words",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_words_kek_id", "audit_words", ["kek_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_words_kek_id", table_name="audit_words")
    op.drop_table("audit_words")
