"""Nothing personal in clear in the database (issue 14): a field's reasons keep their
personal detail (`variant_kanji:﨑`, `doubt:ダ/タ`) sealed with the document's key, and the
SHA-256 kept of every object and file is keyed with the index key, so the database alone
confirms no file. Existing rows are rewritten here, with the installation's keys.

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

stored_object = sa.table("stored_object", sa.column("id", sa.String),
                         sa.column("sha256", sa.String))
source_file = sa.table("source_file", sa.column("id", sa.String), sa.column("sha256", sa.String))
document = sa.table("document", sa.column("id", sa.String), sa.column("kek_id", sa.String),
                    sa.column("wrapped_key", sa.LargeBinary))
field_value = sa.table("field_value", sa.column("id", sa.String),
                       sa.column("document_id", sa.String), sa.column("name", sa.String),
                       sa.column("reasons", sa.JSON),
                       sa.column("reasons_sealed", sa.LargeBinary))


def upgrade() -> None:
    bind = op.get_bind()
    # a run stopped by a missing key may have left the column (SQLite: DDL is not undone)
    if "reasons_sealed" not in {c["name"] for c in sa.inspect(bind).get_columns("field_value")}:
        with op.batch_alter_table("field_value") as batch:
            batch.add_column(sa.Column("reasons_sealed", sa.LargeBinary(), nullable=True))
    if bind.execute(sa.select(stored_object.c.id).limit(1)).first() is None:
        return  # a new installation: nothing was kept yet
    _rewrite(bind)


def _rewrite(bind: sa.Connection) -> None:
    from typing import cast

    from schemas.reasons import without_personal_detail
    from schemas.settings import get_settings
    from storage.blind_index import load_indexer
    from storage.keys import load_keyring
    from storage.models import Document
    from storage.objects import ObjectStore
    from storage.vault import Vault

    if bind.dialect.name == "sqlite":  # the clear values leave the file, not only the rows
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    config = op.get_context().config
    settings = (config.attributes.get("settings") if config else None) or get_settings()
    keyring = load_keyring(settings)
    # the keys only: rows are rewritten here, no object is read or written (`migrate` holds
    # no object-store credential)
    vault = Vault(cast(ObjectStore, None), keyring.current, keyring.previous,
                  keyed=load_indexer(settings, keyring).content_digest)
    for table in (stored_object, source_file):
        for row_id, digest in bind.execute(sa.select(table.c.id, table.c.sha256)).all():
            bind.execute(table.update().where(table.c.id == row_id)
                         .values(sha256=vault.keyed_digest(digest)))
    keys = {row.id: row for row in bind.execute(sa.select(document)).all()}
    for row in bind.execute(sa.select(field_value)).all():
        reasons = list(row.reasons or [])
        if without_personal_detail(reasons) == reasons:
            continue
        owner = keys[row.document_id]
        clear, sealed = without_personal_detail(reasons), None
        if owner.wrapped_key:  # a disposed document's reasons go with it
            clear, sealed = vault.seal_reasons(
                Document(id=owner.id, kek_id=owner.kek_id, wrapped_key=owner.wrapped_key),
                row.name, reasons)
        bind.execute(field_value.update().where(field_value.c.id == row.id)
                     .values(reasons=clear, reasons_sealed=sealed))


def downgrade() -> None:
    raise NotImplementedError(
        "0010 cannot be undone: a keyed digest does not give back the SHA-256 it was made "
        "from. Restore the backup taken before the upgrade.")
