"""Keys: the keyring of key-encryption keys, their rotation and retirement, and the key
files of the embedded default.

A keyring holds the current key-encryption key (every new data key is wrapped by it) and
earlier ones, by id, for data keys not yet re-wrapped. ``rotate_keys`` re-wraps every data
key (objects and documents) under the current KEK without touching the data; ``retire_key``
then refuses a KEK while anything is still wrapped by it.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.settings import Settings
from storage.crypto import KEY_BYTES, Kek, key_file_text, unwrap, wrap
from storage.custody import CustodyError
from storage.models import BlindIndex, Document, KeyRecord, StoredObject, utcnow


@dataclass(frozen=True)
class Keyring:
    current: Kek
    previous: tuple[Kek, ...] = ()
    embedded: bool = False
    """The keys are files in the data directory (nothing configured)."""

    def get(self, kek_id: str) -> Kek | None:
        return next((k for k in (self.current, *self.previous) if k.id == kek_id), None)

    @property
    def ids(self) -> list[str]:
        return [self.current.id, *(k.id for k in self.previous)]


def kek_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "kek.b64"


def previous_kek_dir(data_dir: Path) -> Path:
    return data_dir / "keys" / "previous"


def index_key_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "index.b64"


def key_from_file(path: Path) -> bytes:
    return decode_key(key_file_text(path), str(path))


def decode_key(text_value: str, what: str) -> bytes:
    key = base64.b64decode(text_value.strip())
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must be 32 bytes, base64 encoded")
    return key


def _write_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _shred(path: Path) -> None:
    """Overwrite a key file before unlinking it (best effort on journaling filesystems)."""
    if path.exists():
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.write(os.urandom(size))
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()


def load_keyring(settings: Settings) -> Keyring:
    """KURA_KEK (+ KURA_KEK_PREVIOUS), or the key files of the embedded default."""
    configured_previous = [
        Kek.from_base64(part) for part in settings.kek_previous.split(",") if part.strip()
    ]
    if settings.kek:
        current = Kek.from_base64(settings.kek)
        previous = configured_previous
        embedded = False
    else:
        current = Kek.from_base64(
            base64.b64encode(key_from_file(kek_file(settings.data_dir))).decode()
        )
        folder = previous_kek_dir(settings.data_dir)
        previous = [
            Kek.from_base64(path.read_text()) for path in sorted(folder.glob("*.b64"))
        ] + configured_previous
        embedded = True
    unique: dict[str, Kek] = {}
    for kek in previous:
        if kek.id != current.id:
            unique.setdefault(kek.id, kek)
    return Keyring(current, tuple(unique.values()), embedded)


def new_embedded_kek(settings: Settings) -> Keyring:
    """Embedded default: keep the current key file as a previous key, make a new current
    one. Configured installations set KURA_KEK / KURA_KEK_PREVIOUS instead."""
    if settings.kek:
        raise CustodyError(
            "KURA_KEK is configured: put the new key in KURA_KEK and the old "
            "one in KURA_KEK_PREVIOUS, restart the services, then rotate"
        )
    old = load_keyring(settings).current
    _write_key_file(previous_kek_dir(settings.data_dir) / f"{old.id}.b64", old.key)
    _write_key_file(kek_file(settings.data_dir), Kek.generate().key)
    return load_keyring(settings)


@dataclass(frozen=True)
class RotationReport:
    kek_id: str
    objects: int
    documents: int
    from_keks: dict[str, int]


def rotate_keys(session: Session, keyring: Keyring, chunk: int = 500) -> RotationReport:
    """Re-wrap every data key (objects, documents) under the current KEK. The sealed data is
    not touched: only the small wrapped keys change. Destroyed keys (disposal) stay gone."""
    current = keyring.current
    counts: dict[str, int] = {}
    done = {"objects": 0, "documents": 0}
    models: tuple[tuple[Any, str], ...] = ((StoredObject, "objects"), (Document, "documents"))
    for model, label in models:
        ids = list(
            session.scalars(
                select(model.id)
                .where(model.kek_id != current.id, model.wrapped_key != b"")
                .order_by(model.id)
            )
        )
        for start in range(0, len(ids), chunk):
            rows = session.scalars(select(model).where(model.id.in_(ids[start : start + chunk])))
            for row in rows:
                old = keyring.get(row.kek_id)
                if old is None:
                    raise CustodyError(
                        f"{label[:-1]} {row.id} is wrapped by KEK {row.kek_id}, which is not "
                        "configured: add it to KURA_KEK_PREVIOUS and rotate again"
                    )
                data_key = unwrap(old, row.wrapped_key, row.id)
                row.wrapped_key = wrap(current, data_key, row.id)
                row.kek_id = current.id
                counts[old.id] = counts.get(old.id, 0) + 1
                done[label] += 1
            session.flush()
    _record_key(session, current.id, "kek", "current")
    for kek in keyring.previous:
        _record_key(session, kek.id, "kek", "previous")
    return RotationReport(current.id, done["objects"], done["documents"], counts)


def _record_key(session: Session, key_id: str, purpose: str, state: str) -> KeyRecord:
    record = session.get(KeyRecord, key_id)
    if record is None:
        record = KeyRecord(id=key_id, purpose=purpose, state=state, first_used_at=utcnow())
        session.add(record)
    elif record.state != "retired":
        record.state = state
    return record


def wrapped_by(session: Session, kek_id: str) -> tuple[int, int]:
    """How many (objects, documents) still have a data key wrapped by ``kek_id``."""
    objects = (
        session.scalar(
            select(func.count())
            .select_from(StoredObject)
            .where(StoredObject.kek_id == kek_id, StoredObject.wrapped_key != b"")
        )
        or 0
    )
    documents = (
        session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.kek_id == kek_id, Document.wrapped_key != b"")
        )
        or 0
    )
    return objects, documents


def retire_key(
    session: Session, settings: Settings, keyring: Keyring, kek_id: str, actor: str
) -> str:
    """Mark a previous KEK retired once nothing is wrapped by it; an embedded key file is
    overwritten and removed. Returns what the operator still has to do (may be empty)."""
    if kek_id == keyring.current.id:
        raise CustodyError(f"KEK {kek_id} is the current key: rotate to a new one first")
    objects, documents = wrapped_by(session, kek_id)
    if objects or documents:
        raise CustodyError(
            f"KEK {kek_id} still wraps {objects} object and {documents} "
            "document keys: run `kura keys rotate` first"
        )
    record = _record_key(session, kek_id, "kek", "retired")
    record.state, record.retired_at, record.retired_by = "retired", utcnow(), actor
    key_path = previous_kek_dir(settings.data_dir) / f"{kek_id}.b64"
    if key_path.exists():
        _shred(key_path)
    configured = any(
        Kek.from_base64(part).id == kek_id
        for part in settings.kek_previous.split(",")
        if part.strip()
    )
    if configured:
        return (
            f"remove KEK {kek_id} from KURA_KEK_PREVIOUS on every service, and destroy "
            "its offline copies once the backups it protects have expired"
        )
    return ""


@dataclass(frozen=True)
class KeyLine:
    id: str
    purpose: str
    state: str
    available: bool
    objects: int
    documents: int


def key_listing(session: Session, keyring: Keyring, index_key_id: str) -> list[KeyLine]:
    """Every key Kura has used, by id (never the key), with what it still wraps."""
    _record_key(session, keyring.current.id, "kek", "current")
    for kek in keyring.previous:
        _record_key(session, kek.id, "kek", "previous")
    _record_key(session, index_key_id, "index", "current")
    session.flush()
    lines = []
    for record in session.scalars(select(KeyRecord).order_by(KeyRecord.first_used_at)):
        if record.purpose == "index":
            count = (
                session.scalar(
                    select(func.count())
                    .select_from(BlindIndex)
                    .where(BlindIndex.key_id == record.id)
                )
                or 0
            )
            lines.append(
                KeyLine(record.id, "index", record.state, record.id == index_key_id, 0, count)
            )
            continue
        objects, documents = wrapped_by(session, record.id)
        lines.append(
            KeyLine(
                record.id,
                "kek",
                record.state,
                keyring.get(record.id) is not None,
                objects,
                documents,
            )
        )
    return lines


