"""Restore: a backup archive (storage/backup.py) into an empty installation, every row and
object checked against the manifest before the installation is used."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Integer, Table, func, select, text, update
from sqlalchemy.orm import Session

from schemas.i18n import _
from storage.backup import (
    SEED_ROWS,
    BackupCorrupt,
    RestoreRefused,
    _decoder,
    _members,
    _open_archive,
    _revisions,
    _tables,
    verify_archive,
)
from storage.checkpoints import CheckpointStore
from storage.db import get_engine
from storage.models import StoredObject
from storage.objects import Lock
from storage.vault import Vault


@dataclass(frozen=True)
class RestoreSummary:
    tables: dict[str, int]
    objects: int
    created_at: str
    notes: list[str] = field(default_factory=list)


def installation_contents(connection: Connection, vault: Vault,
                          checkpoints: CheckpointStore | None = None) -> list[str]:
    """What makes an installation non-empty: rows (other than the migration's seed rows),
    objects in the store, audit checkpoints."""
    found = []
    for table in _tables(connection):
        if table.name in SEED_ROWS:
            is_seed = SEED_ROWS[table.name][1]
            rows = connection.execute(select(table)).mappings()
            count = sum(1 for row in rows if not is_seed(dict(row)))
        else:
            count = connection.execute(select(func.count()).select_from(table)).scalar() or 0
        if count:
            found.append(f"{table.name} ({count} rows)")
    if not vault.store.is_empty():
        found.append(f"objects in {vault.store.location}")
    if checkpoints is not None and checkpoints.names():
        found.append(f"audit checkpoints in {checkpoints.location}")
    return found


def restore(url: str, vault: Vault, archive: Path,
            confirm: Callable[[Session], None] | None = None,
            checkpoints: CheckpointStore | None = None,
            index_key_id: str | None = None) -> RestoreSummary:
    """Restore ``archive`` into the EMPTY installation at ``url`` + ``vault.store``.

    The archive is read and checked in full first; the target must be migrated to the same
    revision, hold no rows (but the migration's seed rows) and no objects, and have every key
    the rows need (``index_key_id``: the blind-index key configured here). Rows go in
    within one transaction; ``confirm(session)`` then runs inside
    it (the CLI signs in a backup operator from the restored accounts and records the
    restore in the audit chain) before the sealed objects are written back with their locks
    and the checkpoints to their store; the transaction commits last."""
    from storage.db import upgrade

    manifest = verify_archive(archive, vault)
    upgrade(url)
    engine = get_engine(url)
    with engine.connect() as connection:
        revisions = _revisions(connection)
        if revisions != manifest["revisions"]:
            raise RestoreRefused(_(
                "the archive was made at database revision {value}, this Kura is at {value2}: "
                "restore with the same version").format(
                    value=', '.join(manifest['revisions']), value2=', '.join(revisions)))
        present = installation_contents(connection, vault, checkpoints)
        if present:
            raise RestoreRefused(_(
                "restore goes into an empty installation only; this one holds {value}").format(
                    value=', '.join(present)))
        tables = {t.name: t for t in _tables(connection)}
    missing = set(manifest["tables"]) ^ set(tables)
    if missing:
        raise RestoreRefused(_(
            "tables differ between archive and installation: {value}").format(
                value=', '.join(sorted(missing))))
    unknown_keks = [k for k in manifest["key_ids"]["kek"]
                    if k not in {vault.kek.id, *(p.id for p in vault.previous)}]
    if unknown_keks:
        raise RestoreRefused(_(
            "the rows need KEK {value}, not configured here (KURA_KEK / KURA_KEK_PREVIOUS)").format(
                value=', '.join(unknown_keks)))
    index_keys = manifest["key_ids"]["index"]
    if index_keys and index_keys != [index_key_id]:
        raise RestoreRefused(_(
            "the blind indexes were made with index key {value}: configure the same "
            "KURA_INDEX_KEY").format(value=', '.join(index_keys)))
    if manifest["checkpoints"] and checkpoints is None:
        raise RestoreRefused(_(
            "the archive holds audit checkpoints but no checkpoint store was given"))
    opened = _open_archive(archive, vault)
    counts: dict[str, int] = {}
    objects = 0
    session = Session(engine)
    deferred_head: list[dict[str, Any]] = []
    try:
        confirmed = False
        for member, handle in _members(opened):
            if member.name.startswith("db/"):
                name = member.name.removeprefix("db/").removesuffix(".jsonl")
                if name == "audit_head":  # moved forward once the entries are in
                    deferred_head = [json.loads(line) for line in handle]
                    counts[name] = len(deferred_head)
                else:
                    counts[name] = _load_table(session, tables[name], handle)
                continue
            if not confirmed:
                if deferred_head:
                    _advance_audit_head(session, tables["audit_head"], deferred_head)
                session.flush()
                if confirm is not None:
                    confirm(session)
                session.flush()
                confirmed = True
            if member.name.startswith("objects/"):
                object_id = member.name.removeprefix("objects/")
                stored = session.get_one(StoredObject, object_id)
                vault.store.put(object_id, handle.read(), _lock_of(stored))
                objects += 1
            elif member.name.startswith("checkpoints/") and checkpoints is not None:
                checkpoints.put(member.name.removeprefix("checkpoints/"), handle.read())
        if engine.dialect.name == "postgresql":
            _reset_sequences(session, tables.values())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        opened.raw.close()
    return RestoreSummary(counts, objects, manifest["created_at"])


def _load_table(session: Session, table: Table, handle: IO[bytes]) -> int:
    decoders = {c.name: _decoder(c.type) for c in table.columns}
    seed_key = SEED_ROWS[table.name][0] if table.name in SEED_ROWS else None
    batch: list[dict[str, Any]] = []
    count = 0
    for line in handle:
        raw = json.loads(line)
        unknown = set(raw) - set(decoders)
        if unknown:
            raise RestoreRefused(_(
                "{name} has no column {value}").format(
                    name=table.name, value=', '.join(sorted(unknown))))
        row = {k: decoders[k](v) for k, v in raw.items()}
        count += 1
        if seed_key is not None and session.execute(
                update(table).where(table.c[seed_key] == row[seed_key]).values(row)
        ).rowcount:  # type: ignore[attr-defined]
            continue  # the seed row now holds the archived values
        batch.append(row)
        if len(batch) >= 500:
            session.execute(table.insert(), batch)
            batch = []
    if batch:
        session.execute(table.insert(), batch)
    return count


def _advance_audit_head(session: Session, head: Table, rows: list[dict[str, Any]]) -> None:
    """The head moves entry by entry from the genesis to the archived head (on PostgreSQL a
    trigger lets it move only to the next entry of the chain), which also proves the
    restored chain is whole."""
    for row in rows:
        target = int(row["seq"])
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(
                f"DO $$ BEGIN FOR i IN 1..{target} LOOP "
                "UPDATE audit_head SET seq = seq + 1, entry_hash = (SELECT e.entry_hash "
                "FROM audit_entry e WHERE e.seq = audit_head.seq + 1) "
                f"WHERE id = {int(row['id'])}; END LOOP; END $$"))
        else:
            session.execute(update(head).where(head.c.id == row["id"])
                            .values(seq=target, entry_hash=row["entry_hash"]))
        now = session.execute(select(head.c.seq, head.c.entry_hash)
                              .where(head.c.id == row["id"])).one()
        if (now.seq, now.entry_hash) != (target, row["entry_hash"]):
            raise BackupCorrupt(_("the restored audit chain does not lead to the archived head"))


def _lock_of(stored: StoredObject) -> Lock | None:
    until = stored.retain_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    if until is not None and until <= dt.datetime.now(dt.UTC):
        until = None
    if until is None and not stored.legal_hold:
        return None
    return Lock(stored.lock_mode or "GOVERNANCE", until, stored.legal_hold)


def _reset_sequences(session: Session, tables: Any) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = session.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                       {"t": table.name, "c": column.name}).scalar()
            if sequence:
                session.execute(text(
                    f"SELECT setval(:s, COALESCE((SELECT MAX({column.name}) FROM "
                    f"{table.name}), 0) + 1, false)"), {"s": sequence})
