"""what the rooms remember between requests, in the database (so several web processes and a
restart agree): sign-in attempts for the rate limit, when a session was last used (idle
lock) and whether it still waits for its TOTP code, the originals a session opened for a
stated purpose; and the language each person chose

Revision ID: 0008
Revises: 0009 (chained after main's 0009 when merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_sha256", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_attempt_client_sha256", "sign_in_attempt", ["client_sha256"])
    op.create_index("ix_sign_in_attempt_at", "sign_in_attempt", ["at"])
    op.create_table(
        "original_grant",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("purpose_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_original_grant_token_sha256", "original_grant", ["token_sha256"])
    op.create_index("ix_original_grant_document_id", "original_grant", ["document_id"])
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("awaiting_second_factor", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lang", sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("lang")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_column("awaiting_second_factor")
        batch_op.drop_column("last_seen_at")
    op.drop_index("ix_original_grant_document_id", table_name="original_grant")
    op.drop_index("ix_original_grant_token_sha256", table_name="original_grant")
    op.drop_table("original_grant")
    op.drop_index("ix_sign_in_attempt_at", table_name="sign_in_attempt")
    op.drop_index("ix_sign_in_attempt_client_sha256", table_name="sign_in_attempt")
    op.drop_table("sign_in_attempt")
