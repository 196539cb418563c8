"""The audit chain: every operation, reads included, as an entry that cannot be rewritten
unnoticed.

Each entry names who (a person, or the service identity), when, under which duty, why
(`purpose`, where one is asked), what (object ids — never personal values) and the result.
Entries form a hash chain: `entry_hash = SHA-256(canonical JSON of the entry incl. seq and
prev_hash)`. Appends are serialised on the one-row `audit_head` (a row lock on PostgreSQL,
the write lock on SQLite) inside the caller's transaction, so an entry commits with the
change it records or not at all. In PostgreSQL triggers refuse UPDATE/DELETE/TRUNCATE of
the entries (migration 0002).

A chain alone can be recomputed by whoever can write the table, so every
`audit_checkpoint_every` entries (and on demand) the head — (seq, entry hash) — is signed
with HMAC-SHA256 under the audit key (KURA_AUDIT_KEY, held apart from the KEK) and written
to the checkpoint store: its own S3 bucket with Object Lock retention, or a directory of
read-only files in the embedded default. `verify()` walks the chain and the checkpoints and
names the first entry that was changed, removed, reordered or inserted.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from schemas.settings import Settings
from storage.crypto import key_file_text
from storage.logmask import mask_numbers
from storage.models import Base, Document, Page, SourceFile, utcnow
from storage.objects import ensure_locked_bucket, read_object

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HASH_DOMAIN = b"kura-audit-entry-v1\n"
CHECKPOINT_KIND = "kura-audit-checkpoint"
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


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_fields(entry: AuditEntry, seq: int | None = None) -> dict[str, Any]:
    return {
        "seq": entry.seq if seq is None else seq,
        "at": _utc(entry.at).isoformat(timespec="microseconds"),
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


def _clean(value: Any) -> Any:
    """Strings in purpose/detail pass the number mask: no 個人番号 or 基礎年金番号."""
    if isinstance(value, str):
        return mask_numbers(value)
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


# --- The checkpoint key and store ---------------------------------------------------------


@dataclass(frozen=True)
class AuditKey:
    id: str
    key: bytes

    @classmethod
    def from_base64(cls, text: str) -> AuditKey:
        key = base64.b64decode(text.strip())
        if len(key) < 32:
            raise ValueError("KURA_AUDIT_KEY must be at least 32 bytes, base64 encoded")
        return cls(hashlib.sha256(b"kura-audit-key-id" + key).hexdigest()[:16], key)

    def sign(self, message: bytes) -> str:
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def audit_key_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "audit.b64"


@lru_cache(maxsize=8)
def load_audit_key(configured: str, data_dir: Path) -> AuditKey:
    """The checkpoint key: from configuration, or (embedded default) a key file of its own."""
    if configured:
        return AuditKey.from_base64(configured)
    return AuditKey.from_base64(key_file_text(audit_key_file(data_dir)))


class CheckpointStore(Protocol):
    location: str

    def put(self, name: str, data: bytes) -> bool:
        """Write once; False when `name` already exists (it is never overwritten)."""

    def get(self, name: str) -> bytes: ...

    def names(self) -> list[str]: ...


class DirectoryCheckpoints:
    """Embedded default: read-only files, created exclusively, in a folder of their own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(self, name: str, data: bytes) -> bool:
        try:
            fd = os.open(self.root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return True

    def get(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())


class S3Checkpoints:
    """A bucket of its own, created with Object Lock; each checkpoint is written with a
    retention date (GOVERNANCE or COMPLIANCE mode), so the store itself refuses to delete
    or overwrite it before then."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str,
        secure: bool,
        lock_mode: str,
        lock_days: int,
    ) -> None:
        from minio import Minio

        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, region=region, secure=secure
        )
        self.bucket = bucket
        self.location = f"s3://{bucket} at {endpoint}"
        self.lock_mode = lock_mode.upper()
        self.lock_days = lock_days
        self.object_lock = ensure_locked_bucket(self.client, bucket)

    def put(self, name: str, data: bytes) -> bool:
        from minio.error import S3Error
        from minio.retention import Retention

        try:
            self.client.stat_object(self.bucket, name)
            return False
        except S3Error as error:
            if error.code not in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                raise
        retention = None
        if self.object_lock and self.lock_days > 0:
            until = (utcnow() + dt.timedelta(days=self.lock_days)).replace(microsecond=0)
            retention = Retention(self.lock_mode, until)
        self.client.put_object(
            self.bucket,
            name,
            io.BytesIO(data),
            len(data),
            content_type="application/json",
            retention=retention,
        )
        return True

    def get(self, name: str) -> bytes:
        return read_object(self.client, self.bucket, name)

    def names(self) -> list[str]:
        return sorted(
            o.object_name
            for o in self.client.list_objects(self.bucket, recursive=True)
            if o.object_name
        )


def checkpoint_store(settings: Settings) -> CheckpointStore:
    if settings.s3_endpoint:
        return S3Checkpoints(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.audit_bucket or f"{settings.s3_bucket}-audit",
            settings.s3_region,
            settings.s3_secure,
            settings.audit_lock_mode,
            settings.audit_lock_days,
        )
    return DirectoryCheckpoints(settings.data_dir / "audit-checkpoints")


def checkpoint_name(seq: int) -> str:
    return f"audit-checkpoint-{seq}.json"


_NAME = re.compile(r"^audit-checkpoint-(\d+)\.json$")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    at: str
    key_id: str
    mac: str

    def signed_part(self) -> bytes:
        return canonical(
            {
                "kind": CHECKPOINT_KIND,
                "seq": self.seq,
                "head_hash": self.head_hash,
                "at": self.at,
                "key_id": self.key_id,
            }
        )

    def to_bytes(self) -> bytes:
        return json.dumps({"kind": CHECKPOINT_KIND, **asdict(self)}, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        raw = json.loads(data)
        return cls(
            int(raw["seq"]),
            str(raw["head_hash"]),
            str(raw["at"]),
            str(raw["key_id"]),
            str(raw["mac"]),
        )


def sign_checkpoint(key: AuditKey, seq: int, head_hash: str) -> Checkpoint:
    unsigned = Checkpoint(seq, head_hash, utcnow().isoformat(timespec="seconds"), key.id, "")
    return Checkpoint(seq, head_hash, unsigned.at, key.id, key.sign(unsigned.signed_part()))


def write_checkpoint(settings: Settings, force: bool = False) -> Checkpoint | None:
    """Sign the committed head and write it to the store: when `audit_checkpoint_every`
    entries have passed since the last checkpoint, or at once with `force`. Runs after the
    appending transaction committed, so a checkpoint never names an entry rolled back."""
    from storage.db import session_scope

    with session_scope(settings.sqlalchemy_url) as session:
        seq, head_hash = head(session)
        last = session.scalar(select(func.max(AuditCheckpoint.seq))) or 0
    every = max(settings.audit_checkpoint_every, 1)
    if seq == 0 or seq == last or (not force and seq - last < every):
        return None
    checkpoint = sign_checkpoint(
        load_audit_key(settings.audit_key, settings.data_dir), seq, head_hash
    )
    name = checkpoint_name(seq)
    checkpoint_store(settings).put(name, checkpoint.to_bytes())
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            session.add(
                AuditCheckpoint(
                    seq=seq,
                    head_hash=head_hash,
                    at=dt.datetime.fromisoformat(checkpoint.at),
                    object_name=name,
                )
            )
    except IntegrityError:  # another process wrote the same checkpoint first
        return None
    return checkpoint


def checkpoint_if_due(settings: Settings) -> None:
    """Called after work that appended entries; never lets a store failure stop that work
    (a missed checkpoint is written by the next caller)."""
    try:
        write_checkpoint(settings)
    except Exception as error:
        log.warning("audit checkpoint not written: %s", type(error).__name__)


# --- Verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str
    """changed | removed | reordered | inserted | checkpoint_altered | checkpoint_missing |
    checkpoint_mismatch | checkpoint_unverifiable | head_mismatch"""
    seq: int | None
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    checkpoints_verified: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "first": asdict(self.first) if self.first else None,
            "problems": [asdict(p) for p in self.problems],
        }


SHIFT_WINDOW = 64
"""How far a moved entry's original number is looked for."""


def _origin(entry: AuditEntry) -> int | None:
    """The seq this entry's stored hash was computed for: its own when untouched, another
    when the row was renumbered (moved), None when its content was changed."""
    if compute_hash(entry) == entry.entry_hash:
        return entry.seq
    for delta in range(1, SHIFT_WINDOW + 1):
        for candidate in (entry.seq + delta, entry.seq - delta):
            if candidate > 0 and compute_hash(entry, candidate) == entry.entry_hash:
                return candidate
    return None


def _walk_chain(entries: Sequence[AuditEntry]) -> Problem | None:
    """The first break in the chain, classified."""
    later_hashes = {e.entry_hash: i for i, e in enumerate(entries)}
    prev, prev_prev, expected = GENESIS, None, 1
    for index, entry in enumerate(entries):
        if entry.seq != expected:
            if entry.seq > expected:
                gap = (
                    f"entry {expected}"
                    if entry.seq == expected + 1
                    else f"entries {expected}–{entry.seq - 1}"
                )
                return Problem(
                    "removed",
                    expected,
                    f"{gap} removed: the chain jumps from {expected - 1} to {entry.seq}",
                )
            return Problem("inserted", entry.seq, f"entry {entry.seq} appears twice")
        origin = _origin(entry)
        linked = entry.prev_hash == prev
        if origin == entry.seq and linked:
            prev_prev, prev, expected = prev, entry.entry_hash, expected + 1
            continue
        points_later = later_hashes.get(entry.prev_hash, -1) > index
        if origin is None:
            following = entries[index + 1] if index + 1 < len(entries) else None
            if following is not None and _origin(following) == entry.seq:
                return Problem(
                    "inserted",
                    entry.seq,
                    f"entry {entry.seq} was inserted: the entry after it was "
                    f"numbered {entry.seq} when it was written",
                )
            if points_later:
                return Problem(
                    "reordered", entry.seq, f"entry {entry.seq} is out of order and was changed"
                )
            return Problem(
                "changed",
                entry.seq,
                f"entry {entry.seq} was changed: its content does not match its hash",
            )
        if origin != entry.seq:
            if points_later:
                return Problem(
                    "reordered",
                    entry.seq,
                    f"entry {entry.seq} is out of order: it was written as entry {origin}",
                )
            if origin > entry.seq:
                count = origin - entry.seq
                return Problem(
                    "removed",
                    entry.seq,
                    f"{count} entr{'y' if count == 1 else 'ies'} removed before "
                    f"entry {origin}, which was renumbered {entry.seq}",
                )
            return Problem(
                "inserted",
                origin,
                f"entry {origin} was inserted: the entry now numbered "
                f"{entry.seq} was written as entry {origin}",
            )
        # content intact, link broken
        if entry.seq == 1:
            return Problem("changed", 1, "entry 1 was changed: it does not start the chain")
        if points_later:
            return Problem(
                "reordered",
                entry.seq,
                f"entry {entry.seq} is out of order: it follows an entry that now comes after it",
            )
        if prev_prev is not None and entry.prev_hash == prev_prev:
            return Problem(
                "inserted",
                entry.seq - 1,
                f"entry {entry.seq - 1} was inserted: entry {entry.seq} was "
                f"written right after entry {entry.seq - 2}",
            )
        return Problem(
            "changed",
            entry.seq - 1,
            f"entry {entry.seq - 1} was changed (its hash recomputed): entry "
            f"{entry.seq} was written after a different entry {entry.seq - 1}",
        )
    return None


def verify(settings: Settings, session: Session | None = None) -> VerifyReport:
    """Walk the chain, the head and every checkpoint; report what does not hold, the first
    (lowest entry number) first."""
    from storage.db import session_scope

    if session is None:
        with session_scope(settings.sqlalchemy_url) as own:
            return verify(settings, own)
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    report = VerifyReport(entries=len(entries))
    problems: list[Problem] = []
    chain = _walk_chain(entries)
    if chain:
        problems.append(chain)
    head_seq, head_hash = head(session)
    report.head_seq = head_seq
    last = entries[-1] if entries else None
    if last is None or head_seq != last.seq:
        last_seq = last.seq if last else 0
        if head_seq > last_seq:
            problems.append(
                Problem(
                    "removed",
                    last_seq + 1,
                    f"entries {last_seq + 1}–{head_seq} removed from the end "
                    f"(the head says {head_seq})",
                )
            )
        else:
            problems.append(
                Problem(
                    "head_mismatch",
                    head_seq,
                    f"the head says {head_seq} but entries go to {last_seq}",
                )
            )
    elif head_hash != last.entry_hash and not chain:
        problems.append(
            Problem("changed", last.seq, f"entry {last.seq} was changed: it differs from the head")
        )
    problems.extend(_check_checkpoints(settings, session, entries, report))
    report.problems = sorted(problems, key=lambda p: (p.seq is None, p.seq or 0))
    return report


def _check_checkpoints(
    settings: Settings, session: Session, entries: Sequence[AuditEntry], report: VerifyReport
) -> Iterator[Problem]:
    by_seq = {e.seq: e for e in entries}
    store = checkpoint_store(settings)
    key = load_audit_key(settings.audit_key, settings.data_dir)
    names = store.names()
    recorded = {c.object_name: c for c in session.scalars(select(AuditCheckpoint))}
    report.checkpoints = len(set(names) | set(recorded))
    for name in sorted(set(recorded) - set(names)):
        yield Problem(
            "checkpoint_missing",
            recorded[name].seq,
            f"checkpoint {name} is recorded but gone from the store",
        )
    good: list[int] = []
    for name in sorted(names, key=lambda n: int(m.group(1)) if (m := _NAME.match(n)) else 0):
        matched = _NAME.match(name)
        if not matched:
            yield Problem(
                "checkpoint_altered", None, f"unexpected object {name} in the checkpoint store"
            )
            continue
        try:
            checkpoint = Checkpoint.from_bytes(store.get(name))
        except (ValueError, KeyError, TypeError):
            yield Problem(
                "checkpoint_altered",
                int(matched.group(1)),
                f"checkpoint {name} is not a readable checkpoint",
            )
            continue
        if checkpoint.key_id != key.id:
            yield Problem(
                "checkpoint_unverifiable",
                checkpoint.seq,
                f"checkpoint {name} was signed with another key ({checkpoint.key_id})",
            )
            continue
        if not hmac.compare_digest(
            key.sign(checkpoint.signed_part()), checkpoint.mac
        ) or checkpoint.seq != int(matched.group(1)):
            yield Problem(
                "checkpoint_altered",
                checkpoint.seq,
                f"checkpoint {name} was altered: its signature does not match",
            )
            continue
        report.checkpoints_verified += 1
        entry = by_seq.get(checkpoint.seq)
        since = max((s for s in good if s < checkpoint.seq), default=0)
        if entry is None:
            yield Problem(
                "removed",
                checkpoint.seq,
                f"entry {checkpoint.seq}, signed in checkpoint {name}, is missing",
            )
        elif entry.entry_hash != checkpoint.head_hash:
            yield Problem(
                "checkpoint_mismatch",
                checkpoint.seq,
                f"the chain was rewritten: entry {checkpoint.seq} differs from "
                f"signed checkpoint {name}; the first rewritten entry lies in "
                f"{since + 1}–{checkpoint.seq}",
            )
        else:
            good.append(checkpoint.seq)
        row = recorded.get(name)
        if row is not None and row.head_hash != checkpoint.head_hash:
            yield Problem(
                "checkpoint_altered",
                checkpoint.seq,
                f"the database record of checkpoint {name} was altered",
            )


# --- Search and review --------------------------------------------------------------------


def record_ids(session: Session, record: str) -> set[str]:
    """Every object id that stands for one record: a 受付番号 or any id, with its file,
    pages and stored objects."""
    ids = {record}
    document = session.scalars(
        select(Document).where(or_(Document.receipt_number == record, Document.id == record))
    ).one_or_none()
    if document is not None:
        ids.add(document.id)
        source = session.get(SourceFile, document.source_file_id)
        if source is not None:
            ids |= {source.id, source.object_id}
        for page in session.scalars(select(Page).where(Page.document_id == document.id)):
            ids.add(page.id)
            if page.image_object_id:
                ids.add(page.image_object_id)
    return ids


def search(
    session: Session,
    *,
    person: str | None = None,
    record: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if person:
        query = query.where(AuditEntry.actor == person)
    if action:
        query = query.where(or_(AuditEntry.action == action, AuditEntry.action.like(f"{action}.%")))
    if since:
        query = query.where(AuditEntry.at >= _utc(since))
    if until:
        query = query.where(AuditEntry.at < _utc(until))
    if record:
        ids = record_ids(session, record)
        query = query.where(
            AuditEntry.seq.in_(select(AuditObject.seq).where(AuditObject.object_id.in_(ids)))
        )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def as_row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as people read it: to the second, without the chain's hash."""
    row = entry_fields(entry)
    del row["prev_hash"]
    return {**row, "at": _utc(entry.at).isoformat(timespec="seconds")}


def quarter_bounds(quarter: str) -> tuple[dt.datetime, dt.datetime]:
    """'2026Q4' → office-time bounds [2026-10-01, 2027-01-01)."""
    matched = re.fullmatch(r"(\d{4})-?Q([1-4])", quarter.strip().upper())
    if not matched:
        raise ValueError("a quarter looks like 2026Q4")
    year, number = int(matched.group(1)), int(matched.group(2))
    start = dt.datetime(year, 3 * number - 2, 1, tzinfo=OFFICE_TZ)
    end = (
        dt.datetime(year + 1, 1, 1, tzinfo=OFFICE_TZ)
        if number == 4
        else dt.datetime(year, 3 * number + 1, 1, tzinfo=OFFICE_TZ)
    )
    return start, end


def _off_hours(moment: dt.datetime) -> bool:
    local = _utc(moment).astimezone(OFFICE_TZ)
    return local.weekday() >= 5 or not 8 <= local.hour < 19


def review_report(
    settings: Settings, session: Session, since: dt.datetime, until: dt.datetime
) -> dict[str, Any]:
    """The quarterly log review (DOMAIN §6.3 control 22): activity per person and duty,
    sign-in failures, refused access, originals opened and why, account changes, work out
    of office hours, and whether the chain verifies."""
    entries = search(session, since=since, until=until)
    verification = verify(settings, session)
    by_person: dict[str, Counter[str]] = {}
    for entry in entries:
        by_person.setdefault(entry.actor, Counter())[entry.action] += 1
    return {
        "report": "Kura audit log review (DOMAIN §6.3 control 22)",
        "period": {"from": since.isoformat(), "until": until.isoformat()},
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "entries": len(entries),
        "chain": verification.as_dict(),
        "by_action": dict(sorted(Counter(e.action for e in entries).items())),
        "by_person": {p: dict(sorted(c.items())) for p, c in sorted(by_person.items())},
        "sign_in_failures": [
            as_row(e) for e in entries if e.action == "login" and e.result != "ok"
        ],
        "refused": [
            as_row(e) for e in entries if e.result.startswith("denied") and e.action != "login"
        ],
        "originals_opened": [as_row(e) for e in entries if e.action == "original.open"],
        "account_changes": [
            as_row(e) for e in entries if e.action.startswith("user.") and e.action != "user.list"
        ],
        "off_hours": [as_row(e) for e in entries if _off_hours(e.at) and e.actor != SERVICE_NAME],
    }


def report_csv(report: dict[str, Any]) -> str:
    """The same report as one CSV table: a section column, then the entry's columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "section",
            "seq",
            "at",
            "actor",
            "role",
            "action",
            "result",
            "purpose",
            "object_ids",
            "count",
        ]
    )
    period = report["period"]
    writer.writerow(["period", "", period["from"], "", "", "", period["until"], "", "", ""])
    chain = report["chain"]
    first = chain["first"]
    writer.writerow(
        [
            "chain",
            first["seq"] if first else "",
            "",
            "",
            "",
            "verify",
            "ok" if chain["ok"] else f"{first['kind']}: {first['message']}",
            "",
            "",
            chain["entries"],
        ]
    )
    for action, count in report["by_action"].items():
        writer.writerow(["by_action", "", "", "", "", action, "", "", "", count])
    for person, actions in report["by_person"].items():
        for action, count in actions.items():
            writer.writerow(["by_person", "", "", person, "", action, "", "", "", count])
    for section in (
        "sign_in_failures",
        "refused",
        "originals_opened",
        "account_changes",
        "off_hours",
    ):
        for row in report[section]:
            writer.writerow(
                [
                    section,
                    row["seq"],
                    row["at"],
                    row["actor"],
                    row["role"],
                    row["action"],
                    row["result"],
                    row["purpose"] or "",
                    " ".join(row["object_ids"]),
                    "",
                ]
            )
    return out.getvalue()
