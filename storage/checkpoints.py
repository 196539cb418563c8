"""Signed checkpoints of the audit chain's head, written where the database's owner cannot
rewrite them.

Every `audit_checkpoint_every` entries (and on demand) the head — (seq, entry hash) — is
signed with HMAC-SHA256 under the audit key (KURA_AUDIT_KEY, held apart from the KEK) and
written to the checkpoint store: its own S3 bucket with Object Lock retention, or a
directory of read-only files in the embedded default.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from schemas.settings import Settings
from storage.audit import AuditCheckpoint, canonical, head
from storage.keys import audit_key_file, embedded_key
from storage.models import utcnow
from storage.objects import Lock, S3Store

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "kura-audit-checkpoint"


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


@lru_cache(maxsize=8)
def load_audit_key(settings: Settings) -> AuditKey:
    """The checkpoint key: from configuration, or (embedded default) a key file of its own."""
    if settings.audit_key:
        return AuditKey.from_base64(settings.audit_key)
    return AuditKey.from_base64(base64.b64encode(embedded_key(settings, audit_key_file)).decode())


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

    def __init__(self, store: S3Store, lock_mode: str, lock_days: int) -> None:
        self.store = store
        self.bucket = store.bucket
        self.location = store.location
        self.object_lock = store.object_lock
        self.lock_mode = lock_mode.upper()
        self.lock_days = lock_days

    def put(self, name: str, data: bytes) -> bool:
        if self.store.exists(name):
            return False
        lock = None
        if self.object_lock and self.lock_days > 0:
            until = (utcnow() + dt.timedelta(days=self.lock_days)).replace(microsecond=0)
            lock = Lock(self.lock_mode, until, False)
        self.store.put(name, data, lock)
        return True

    def get(self, name: str) -> bytes:
        return self.store.get(name)

    def names(self) -> list[str]:
        return self.store.names()


def checkpoint_store(settings: Settings) -> CheckpointStore:
    if settings.s3_endpoint:
        store = S3Store(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.audit_bucket or f"{settings.s3_bucket}-audit",
            settings.s3_region,
            settings.s3_secure,
        )
        return S3Checkpoints(store, settings.audit_lock_mode, settings.audit_lock_days)
    return DirectoryCheckpoints(settings.keys_dir / "audit-checkpoints")


def checkpoint_name(seq: int) -> str:
    return f"audit-checkpoint-{seq}.json"


CHECKPOINT_NAME = re.compile(r"^audit-checkpoint-(\d+)\.json$")


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
    entries or `audit_checkpoint_seconds` have passed since the last checkpoint, or at once
    with `force`. Runs after the appending transaction committed, so a checkpoint never
    names an entry rolled back."""
    from storage.db import session_scope

    with session_scope(settings.sqlalchemy_url) as session:
        seq, head_hash = head(session)
        last, last_at = session.execute(
            select(AuditCheckpoint.seq, AuditCheckpoint.at)
            .order_by(AuditCheckpoint.seq.desc()).limit(1)
        ).first() or (0, None)
    every = max(settings.audit_checkpoint_every, 1)
    stale = last_at is not None and utcnow() - _aware(last_at) >= dt.timedelta(
        seconds=settings.audit_checkpoint_seconds)
    if seq == 0 or seq == last or (not force and not stale and seq - last < every):
        return None
    checkpoint = sign_checkpoint(
        load_audit_key(settings), seq, head_hash
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


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def checkpoint_if_due(settings: Settings, force: bool = False) -> None:
    """Called after work that appended entries; never lets a store failure stop that work
    (a missed checkpoint is written by the next caller)."""
    try:
        write_checkpoint(settings, force)
    except Exception as error:
        log.warning("audit checkpoint not written: %s", type(error).__name__)


