"""受付番号 per municipality (issue 13): a document's number is unique together with the
municipality it was taken in under (document.municipality), no longer across the whole
installation, so offices sharing one installation each count their own R…-000001. Register
entries say whose 受付処理簿 they are a line of. Rows kept before were numbered under the
installation's own municipality (its settings.municipality_code) and are marked so.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""Gives SQLite's unnamed UNIQUE(receipt_number) of 0001 a name to drop it by."""


def _own_municipality() -> str:
    from schemas.settings import get_settings

    config = op.get_context().config
    settings = (config.attributes.get("settings") if config else None) or get_settings()
    return str(settings.municipality_code)


def upgrade() -> None:
    bind = op.get_bind()
    own = _own_municipality()
    unique = next((c["name"] for c in sa.inspect(bind).get_unique_constraints("document")
                   if c["column_names"] == ["receipt_number"]), None)
    with op.batch_alter_table("document", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("municipality", sa.String(6), nullable=False,
                                   server_default=own))
        batch.drop_constraint(unique or "uq_document_receipt_number", type_="unique")
        batch.create_unique_constraint("uq_document_municipality_receipt",
                                       ["municipality", "receipt_number"])
        batch.create_index("ix_document_receipt_number", ["receipt_number"])
    with op.batch_alter_table("register_entry") as batch:
        batch.add_column(sa.Column("municipality", sa.String(6), nullable=False,
                                   server_default=own))
        batch.create_index("ix_register_entry_municipality", ["municipality"])


def downgrade() -> None:
    with op.batch_alter_table("register_entry") as batch:
        batch.drop_index("ix_register_entry_municipality")
        batch.drop_column("municipality")
    with op.batch_alter_table("document") as batch:
        batch.drop_index("ix_document_receipt_number")
        batch.drop_constraint("uq_document_municipality_receipt", type_="unique")
        batch.drop_column("municipality")
        batch.create_unique_constraint("uq_document_receipt_number", ["receipt_number"])
