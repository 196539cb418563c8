"""accounts and the audit chain: people, sessions, the service identity, audit entries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:00:00

On PostgreSQL the audit tables refuse UPDATE, DELETE and TRUNCATE through triggers (the
head row may only move forward to an entry that exists). The application role's privileges
are granted by `kura db upgrade` after every migration (storage.db.grant_app_role). The
migration user owns the tables; the application role must not (an owner can drop triggers).
On SQLite the same refusals are triggers too: defence in depth for the embedded default,
where whoever holds the file can remove them — the signed checkpoints catch that.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY = ("audit_entry", "audit_object", "audit_checkpoint")


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "login_session",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_login_session_person_id", "login_session", ["person_id"])
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=160), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("object_ids", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(length=120), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("entry_hash"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])
    op.create_table(
        "audit_object",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["seq"], ["audit_entry.seq"]),
        sa.PrimaryKeyConstraint("seq", "object_id"),
    )
    op.create_index("ix_audit_object_object_id", "audit_object", ["object_id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS}])
    person = sa.table(
        "person", sa.column("id", sa.String), sa.column("username", sa.String),
        sa.column("kind", sa.String), sa.column("roles", sa.JSON),
        sa.column("password_hash", sa.String), sa.column("disabled", sa.Boolean),
        sa.column("failed_logins", sa.Integer), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("created_by", sa.String),
    )
    op.bulk_insert(person, [{
        "id": uuid.uuid4().hex, "username": "svc-worker", "kind": "service",
        "roles": ["service"], "password_hash": None, "disabled": False, "failed_logins": 0,
        "created_at": dt.datetime.now(dt.UTC), "created_by": "migration",
    }])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgresql_guards()
    elif dialect == "sqlite":
        _sqlite_guards()


def _postgresql_guards() -> None:
    op.execute("""
        CREATE FUNCTION kura_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("""
        CREATE FUNCTION kura_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'the audit head cannot be deleted'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.id <> OLD.id THEN
                RAISE EXCEPTION 'the audit head cannot be renumbered'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.seq = OLD.seq AND NEW.entry_hash = OLD.entry_hash THEN
                RETURN NEW;  -- a no-op update (a lock)
            END IF;
            IF NEW.seq <> OLD.seq + 1 OR NOT EXISTS (
                SELECT 1 FROM audit_entry e
                WHERE e.seq = NEW.seq AND e.entry_hash = NEW.entry_hash
                  AND e.prev_hash = OLD.entry_hash) THEN
                RAISE EXCEPTION 'the audit head only moves to the next entry of the chain'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
    """)
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION kura_audit_refuse()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION kura_audit_refuse()")
    op.execute("CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
               "FOR EACH ROW EXECUTE FUNCTION kura_audit_head_forward()")
    op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
               "FOR EACH STATEMENT EXECUTE FUNCTION kura_audit_refuse()")


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
               "BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS kura_audit_refuse()")
        op.execute("DROP FUNCTION IF EXISTS kura_audit_head_forward()")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_object_object_id", table_name="audit_object")
    op.drop_table("audit_object")
    op.drop_index("ix_audit_entry_action", table_name="audit_entry")
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
    op.drop_index("ix_audit_entry_at", table_name="audit_entry")
    op.drop_table("audit_entry")
    op.drop_index("ix_login_session_person_id", table_name="login_session")
    op.drop_table("login_session")
    op.drop_table("person")
