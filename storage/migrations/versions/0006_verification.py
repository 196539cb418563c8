"""verification and the admin room: the history of every field value, four-eyes and
double-blind keying; second factors (TOTP) and the monthly access review

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_event",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("field_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("answers", sa.String(length=32), nullable=True),
        sa.Column("by", sa.String(length=40), nullable=False),
        sa.Column("duty", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.ForeignKeyConstraint(["field_id"], ["field_value.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_event", schema=None) as batch_op:
        batch_op.create_index("ix_verification_event_document_id", ["document_id"])
        batch_op.create_index("ix_verification_event_field_id", ["field_id"])
        batch_op.create_index("ix_verification_event_at", ["at"])

    op.create_table(
        "second_factor",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped_secret", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("person_id"),
    )
    op.create_table(
        "access_review",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.String(length=40), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )


def downgrade() -> None:
    op.drop_table("access_review")
    op.drop_table("second_factor")
    op.drop_table("verification_event")
