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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from schemas.i18n import _
from schemas.settings import Settings
from storage.audit_words import AuditWords, words_wrapped_by
from storage.crypto import KEY_BYTES, Kek, key_file_text, unwrap, wrap
from storage.custody import CustodyError
from storage.db import get_engine
from storage.models import (
    BlindIndex,
    Document,
    KeyRecord,
    SecondFactor,
    StoredObject,
    utcnow,
)


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


def kek_file(keys_dir: Path) -> Path:
    return keys_dir / "kek.b64"


def previous_kek_dir(keys_dir: Path) -> Path:
    return keys_dir / "previous"


def index_key_file(keys_dir: Path) -> Path:
    return keys_dir / "index.b64"


def audit_key_file(keys_dir: Path) -> Path:
    return keys_dir / "audit.b64"


def key_from_file(path: Path) -> bytes:
    return decode_key(key_file_text(path), str(path))


def installation_is_new(settings: Settings) -> bool:
    """Nothing has been sealed or signed yet (no key folder with its signed checkpoints, no
    stored object): the only moment an installation may make its keys. A clerk's machine
    (KURA_SERVER_URL set) is no installation: it never makes a key, the server holds them."""
    if settings.server_url:
        return False
    if any(path.is_file() for path in settings.keys_dir.rglob("*")):
        return False
    try:
        with get_engine(settings.sqlalchemy_url).connect() as connection:
            return connection.execute(select(StoredObject.id).limit(1)).first() is None
    except (OperationalError, ProgrammingError):  # no database or no tables yet
        return True


def _configured(settings: Settings) -> dict[Callable[[Path], Path], str]:
    return {kek_file: settings.kek, index_key_file: settings.index_key,
            audit_key_file: settings.audit_key}


def init_keys(settings: Settings) -> Path:
    """Make the keys that are not configured (KEK, blind-index key, audit key) as files in
    a folder of their own, once, for a new installation; refused otherwise."""
    if not installation_is_new(settings):
        raise CustodyError(
            _(
                "keys are made only for a new installation, and {keys_dir} or data sealed under "
                "earlier keys exists").format(keys_dir=settings.keys_dir),
            hint=_(
                "restore the key folder from its backup instead; `kura doctor` shows where each "
                "key is looked for"),
        )
    settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key_file, configured in _configured(settings).items():
        if not configured:
            _write_key_file(key_file(settings.keys_dir), os.urandom(KEY_BYTES))
    return settings.keys_dir


def embedded_key(settings: Settings, key_file: Callable[[Path], Path]) -> bytes:
    """A key of the embedded default; a new installation gets its keys on first use."""
    path = key_file(settings.keys_dir)
    if not path.exists() and installation_is_new(settings):
        init_keys(settings)
    return key_from_file(path)


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
        current = Kek.from_base64(base64.b64encode(embedded_key(settings, kek_file)).decode())
        folder = previous_kek_dir(settings.keys_dir)
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
            _(
                "KURA_KEK is configured: put the new key in KURA_KEK and the old one in "
                "KURA_KEK_PREVIOUS, restart the services, then rotate")
        )
    old = load_keyring(settings).current
    _write_key_file(previous_kek_dir(settings.keys_dir) / f"{old.id}.b64", old.key)
    _write_key_file(kek_file(settings.keys_dir), Kek.generate().key)
    return load_keyring(settings)


@dataclass(frozen=True)
class RotationReport:
    kek_id: str
    objects: int
    documents: int
    from_keks: dict[str, int]


def rotate_keys(session: Session, keyring: Keyring, chunk: int = 500) -> RotationReport:
    """Re-wrap every data key (objects, documents, audit words) and every TOTP secret under
    the current KEK. The sealed data is not touched: only the small wrapped keys change.
    Destroyed keys (disposal) stay gone."""
    current = keyring.current
    counts: dict[str, int] = {}
    done = {"objects": 0, "documents": 0, "words": 0}
    models: tuple[tuple[Any, str], ...] = (
        (StoredObject, "objects"), (Document, "documents"), (AuditWords, "words"))
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
                        _(
                            "{label} {id} is wrapped by KEK {kek_id}, which is not configured: "
                            "add it to KURA_KEK_PREVIOUS and rotate again").format(
                                label=label[:-1], id=row.id, kek_id=row.kek_id)
                    )
                data_key = unwrap(old, row.wrapped_key, row.id)
                row.wrapped_key = wrap(current, data_key, row.id)
                row.kek_id = current.id
                counts[old.id] = counts.get(old.id, 0) + 1
                done[label] += 1
            session.flush()
    for factor in session.scalars(select(SecondFactor).where(SecondFactor.kek_id != current.id)):
        # the TOTP secrets too: a retired key would otherwise lock their people out
        old = keyring.get(factor.kek_id)
        if old is None:
            raise CustodyError(_(
                "{label} {id} is wrapped by KEK {kek_id}, which is not configured: add it to "
                "KURA_KEK_PREVIOUS and rotate again").format(
                    label="second factor", id=factor.person_id, kek_id=factor.kek_id))
        secret = unwrap(old, factor.wrapped_secret, factor.person_id)
        factor.wrapped_secret = wrap(current, secret, factor.person_id)
        factor.kek_id = current.id
        counts[old.id] = counts.get(old.id, 0) + 1
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
        raise CustodyError(_(
            "KEK {kek_id} is the current key: rotate to a new one first").format(kek_id=kek_id))
    objects, documents = wrapped_by(session, kek_id)
    words = words_wrapped_by(session, kek_id)
    if objects or documents or words:
        raise CustodyError(
            _(
                "KEK {kek_id} still wraps {objects} object, {documents} document and {words} "
                "audit-words keys: run `kura keys rotate` first").format(
                    kek_id=kek_id, objects=objects, documents=documents, words=words)
        )
    secrets = session.scalar(select(func.count()).select_from(SecondFactor)
                             .where(SecondFactor.kek_id == kek_id)) or 0
    if secrets:
        raise CustodyError(_(
            "KEK {kek_id} still wraps {count} second-factor secrets: run `kura keys rotate` "
            "first").format(kek_id=kek_id, count=secrets))
    record = _record_key(session, kek_id, "kek", "retired")
    record.state, record.retired_at, record.retired_by = "retired", utcnow(), actor
    key_path = previous_kek_dir(settings.keys_dir) / f"{kek_id}.b64"
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


