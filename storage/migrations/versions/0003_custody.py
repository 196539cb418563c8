"""custody: object locks, retention, key records, blind indexes, legal holds, disposal

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock_mode", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("store_removed", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retain_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disposal_id", sa.String(length=32), nullable=True))

    op.create_table(
        "key_record",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "blind_index",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "field"),
    )
    with op.batch_alter_table("blind_index", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blind_index_document_id"), ["document_id"])
        batch_op.create_index(batch_op.f("ix_blind_index_digest"), ["digest"])

    op.create_table(
        "legal_hold",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_hold_document_id"), ["document_id"])

    op.create_table(
        "disposal_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate", sa.Text(), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("disposal_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disposal_request_status"), ["status"])

    op.create_table(
        "disposal_item",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("receipt_number", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["disposal_request.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "document_id"),
    )
    with op.batch_alter_table("disposal_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disposal_item_request_id"), ["request_id"])
        batch_op.create_index(batch_op.f("ix_disposal_item_document_id"), ["document_id"])


def downgrade() -> None:
    op.drop_table("disposal_item")
    op.drop_table("disposal_request")
    op.drop_table("legal_hold")
    op.drop_table("blind_index")
    op.drop_table("key_record")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("disposal_id")
        batch_op.drop_column("disposed_at")
        batch_op.drop_column("retain_until")
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.drop_column("store_removed")
        batch_op.drop_column("destroyed_at")
        batch_op.drop_column("legal_hold")
        batch_op.drop_column("retain_until")
        batch_op.drop_column("lock_mode")
