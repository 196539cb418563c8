"""The register's life (受付処理簿), 進達 batches with their media-ledger columns, the rows of
a 処理結果一覧表 and its 突合 (storage/register_models.py).

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "transmittal",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("addressee", sa.String(120), nullable=False),
        sa.Column("purpose", sa.String(120), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("prepared_by", sa.String(40), nullable=False),
        sa.Column("prepared_at", WHEN, nullable=False),
        sa.Column("released_by", sa.String(40)),
        sa.Column("released_at", WHEN),
        sa.Column("archive_object_id", sa.String(32), sa.ForeignKey("stored_object.id")),
        sa.Column("archive_sha256", sa.String(64)),
        sa.Column("registered_mail_number", sa.String(30)),
        sa.Column("registered_mail_by", sa.String(40)),
        sa.Column("mail_receipt_object_id", sa.String(32), sa.ForeignKey("stored_object.id")),
    )
    op.create_table(
        "list_row",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("document.id"), nullable=False,
                  index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("page_number", sa.Integer(), nullable=False),
        sa.Column("box", sa.JSON()),
        sa.Column("cells_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("review", sa.JSON(), nullable=False),
        sa.Column("digests", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(30), index=True),
        sa.Column("entry_id", sa.String(32), index=True),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "register_entry",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("document.id"), unique=True),
        sa.Column("origin", sa.String(12), nullable=False),
        sa.Column("route", sa.String(10), nullable=False),
        sa.Column("scanned_via", sa.String(20), nullable=False),
        sa.Column("office", sa.String(60), nullable=False),
        sa.Column("form_id", sa.String(60), nullable=False),
        sa.Column("notification_type", sa.String(40), nullable=False),
        sa.Column("forward_only", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False, index=True),
        sa.Column("received_date", sa.Date(), nullable=False),
        sa.Column("transmittal_id", sa.String(32), sa.ForeignKey("transmittal.id"), index=True),
        sa.Column("forwarded_on", sa.Date()),
        sa.Column("list_row_id", sa.String(32), sa.ForeignKey("list_row.id")),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("result_on", sa.Date()),
        sa.Column("filed_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "reconciliation",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("document.id"), nullable=False,
                  unique=True),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("overdue", sa.JSON(), nullable=False),
        sa.Column("run_by", sa.String(40), nullable=False),
        sa.Column("run_at", WHEN, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("confirmed_by", sa.String(40)),
        sa.Column("confirmed_at", WHEN),
    )


def downgrade() -> None:
    for table in ("reconciliation", "register_entry", "list_row", "transmittal"):
        op.drop_table(table)
