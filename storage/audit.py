"""The audit chain: every operation, reads included, as an entry that cannot be rewritten
unnoticed.

Each entry names who (a person, or the service identity), when, under which duty, why
(`purpose`, where one is asked), what (object ids — never personal values) and the result.
Entries form a hash chain: `entry_hash = SHA-256(canonical JSON of the entry incl. seq and
prev_hash)`. Appends are serialised on the one-row `audit_head` (a row lock on PostgreSQL,
the write lock on SQLite) inside the caller's transaction, so an entry commits with the
change it records or not at all. In PostgreSQL triggers refuse UPDATE/DELETE/TRUNCATE of
the entries (migration 0002).

A chain alone can be recomputed by whoever can write the table: storage/checkpoints.py
signs its head now and then and writes it where the database's owner cannot rewrite it;
storage/audit_verify.py walks both; storage/audit_reports.py searches and reviews.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from schemas.normalise import canonical_json
from storage.logmask import mask_numbers
from storage.models import Base, utcnow

GENESIS = "0" * 64
HASH_DOMAIN = b"kura-audit-entry-v1\n"
OFFICE_TZ = ZoneInfo("Asia/Tokyo")
SERVICE_NAME = "svc-worker"
"""The service identity workers act as (an account of kind `service`, see storage.accounts)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a person's user name (or the service identity) and the duty used."""

    name: str
    role: str


SERVICE = Actor(SERVICE_NAME, "service")
"""Workers, the in-process runner and the hot folder act as this identity."""


# --- Tables -------------------------------------------------------------------------------


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(40), index=True)
    purpose: Mapped[str | None] = mapped_column(Text)
    object_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    result: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Codes and counts (never personal values), e.g. a reject code or the roles granted."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditObject(Base):
    """Index: which entries name which object (for search by record)."""

    __tablename__ = "audit_object"
    seq: Mapped[int] = mapped_column(ForeignKey("audit_entry.seq"), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class AuditHead(Base):
    """One row (id 1): the newest entry's seq and hash; the row appends lock on."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """Where each signed checkpoint was written (the signed copy lives in the store)."""

    __tablename__ = "audit_checkpoint"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    object_name: Mapped[str] = mapped_column(String(120))


# --- Canonical encoding and appending --------------------------------------------------------


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def canonical(value: Any) -> bytes:
    return canonical_json(value).encode()


def entry_fields(entry: AuditEntry, seq: int | None = None) -> dict[str, Any]:
    return {
        "seq": entry.seq if seq is None else seq,
        "at": as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "purpose": entry.purpose,
        "object_ids": list(entry.object_ids or []),
        "result": entry.result,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }


def compute_hash(entry: AuditEntry, seq: int | None = None) -> str:
    return hashlib.sha256(HASH_DOMAIN + canonical(entry_fields(entry, seq))).hexdigest()


SEALED = "sealed:"
"""The prefix of a person's words sealed by storage/audit_words.py (masked before sealing)."""


def _clean(value: Any) -> Any:
    """Strings in purpose/detail pass the number mask: no 個人番号 or 基礎年金番号."""
    if isinstance(value, str):
        return value if value.startswith(SEALED) else mask_numbers(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _lock_head(session: Session) -> tuple[int, str]:
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1).with_for_update()
        ).one()
    else:
        # SQLite: a write takes the database write lock (waiting out the busy timeout) and
        # holds it to commit, which serialises appends across processes.
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
        row = session.execute(
            select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)
        ).one()
    return int(row[0]), str(row[1])


def append(
    session: Session,
    actor: Actor,
    action: str,
    object_ids: Iterable[str] = (),
    *,
    result: str = "ok",
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to the chain, in the caller's transaction."""
    ids = list(dict.fromkeys(str(i) for i in object_ids if i))
    seq, prev = _lock_head(session)
    entry = AuditEntry(
        seq=seq + 1,
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        action=action,
        purpose=_clean(purpose) if purpose else None,
        object_ids=ids,
        result=_clean(result),
        detail=json.loads(json.dumps(_clean(detail))) if detail else None,
        prev_hash=prev,
    )
    entry.entry_hash = compute_hash(entry)
    session.add(entry)
    session.flush()
    session.add_all(AuditObject(seq=entry.seq, object_id=i[:40]) for i in ids)
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=entry.seq, entry_hash=entry.entry_hash)
    )
    return entry


def head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)
    ).one()
    return int(row[0]), str(row[1])


