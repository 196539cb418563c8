"""Custody of what the storehouse keeps: keys and their rotation, blind indexes for
exact-match search, retention and legal hold, and disposal by two people.

- **Keys.** A keyring holds the current key-encryption key (every new data key is wrapped by
  it) and earlier ones, by id, for data keys not yet re-wrapped. ``rotate_keys`` re-wraps
  every data key (objects and documents) under the current KEK without touching the data;
  ``retire_key`` then refuses a KEK while anything is still wrapped by it.
- **Blind indexes.** HMAC-SHA256, keyed with a key of its own (never a KEK), over the
  normalised value of 基礎年金番号, 個人番号, name kana and birth date: equal values give
  equal digests, so ``find_documents`` finds exact matches without any value in clear.
- **Retention.** Each document class has a period (default: keep indefinitely). Originals
  are written under an Object Lock: retention (GOVERNANCE or COMPLIANCE) until the end of
  the period, and a legal hold while the period is indefinite or a hold is set. The store
  refuses deletion; Kura refuses first.
- **Disposal.** A request names documents and a reason; a different person approves; Kura
  then destroys the data keys (cryptographic erase), removes the object versions the store
  lets go, and issues a certificate (JSON + PDF) with the checksums of what was destroyed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from schemas.errors import Conflict, ExitCode
from schemas.settings import Settings
from storage.crypto import KEY_BYTES, Kek, key_file_text, unwrap, wrap
from storage.models import (
    BlindIndex,
    DisposalItem,
    DisposalRequest,
    Document,
    FieldValue,
    KeyRecord,
    LegalHold,
    Page,
    SourceFile,
    StoredObject,
    utcnow,
)
from storage.objects import Lock, ObjectLocked
from storage.vault import Vault

ERASE_METHOD = "cryptographic erase (NIST SP 800-88 Purge)"


class CustodyError(Conflict):
    """A custody rule refuses the operation; the message says which and why."""

    code = "custody"
    exit_code = ExitCode.refused


class RetentionError(CustodyError):
    """The retention period has not ended, or a legal hold is set."""

    code = "retention"


class FourEyesError(CustodyError):
    """The same person may not both request and approve."""

    code = "four_eyes"


# --- Keys ---------------------------------------------------------------------------------


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


def _key_from_file(path: Path) -> bytes:
    return _decode_key(key_file_text(path), str(path))


def _decode_key(text_value: str, what: str) -> bytes:
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
            base64.b64encode(_key_from_file(kek_file(settings.data_dir))).decode()
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


def key_listing(session: Session, keyring: Keyring, indexer: BlindIndexer) -> list[KeyLine]:
    _record_key(session, keyring.current.id, "kek", "current")
    for kek in keyring.previous:
        _record_key(session, kek.id, "kek", "previous")
    _record_key(session, indexer.id, "index", "current")
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
                KeyLine(record.id, "index", record.state, record.id == indexer.id, 0, count)
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


# --- Blind indexes ------------------------------------------------------------------------

INDEXED_FIELDS: dict[str, str] = {
    "basic_pension_number": "digits",
    "my_number": "digits",
    "name_kana": "kana",
    "birth_date": "date",
}
"""Field name → how its value is normalised before it is indexed."""

FIELD_ALIASES: dict[str, str] = {
    "bpn": "basic_pension_number",
    "pension_number": "basic_pension_number",
    "基礎年金番号": "basic_pension_number",
    "個人番号": "my_number",
    "mynumber": "my_number",
    "kana": "name_kana",
    "フリガナ": "name_kana",
    "氏名フリガナ": "name_kana",
    "birth": "birth_date",
    "生年月日": "birth_date",
}

_ERAS = {
    "1": 1868,
    "3": 1912,
    "5": 1926,
    "7": 1989,
    "9": 2019,
    "M": 1868,
    "T": 1912,
    "S": 1926,
    "H": 1989,
    "R": 2019,
    "明治": 1868,
    "大正": 1912,
    "昭和": 1926,
    "平成": 1989,
    "令和": 2019,
}


def index_field(name: str) -> str:
    field_name = FIELD_ALIASES.get(name, name)
    if field_name not in INDEXED_FIELDS:
        raise CustodyError(f"no blind index on {name}: searchable are {', '.join(INDEXED_FIELDS)}")
    return field_name


def normalise_for_index(field_name: str, value: str) -> str:
    """The canonical form a value is indexed (and searched) under; '' when unusable."""
    text_value = unicodedata.normalize("NFKC", value).strip()
    kind = INDEXED_FIELDS[index_field(field_name)]
    if kind == "digits":
        return re.sub(r"\D", "", text_value)
    if kind == "kana":
        converted = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text_value)
        return re.sub(r"[\s・]", "", converted).replace("-", "ー")
    return _normalise_date(text_value)


def _normalise_date(text_value: str) -> str:
    """ISO date from 1965-01-02, 1965/1/2, 19650102, S40.1.2, 昭和40年1月2日 or the form's
    7-digit code (era digit + YYMMDD); '' when it is not a date."""
    parts = [
        p
        for p in re.split(
            r"[^0-9A-Z明治大正昭和平成令和]+|(?<=[A-Z])(?=\d)|"
            r"(?<=[治正和成])(?=\d)",
            text_value.upper(),
        )
        if p
    ]
    try:
        if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 8:
            day = dt.date(int(parts[0][:4]), int(parts[0][4:6]), int(parts[0][6:]))
        elif len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 7:
            era, code = _ERAS[parts[0][0]], parts[0]
            day = dt.date(era + int(code[1:3]) - 1, int(code[3:5]), int(code[5:]))
        elif len(parts) == 3 and all(p.isdigit() for p in parts):
            day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
        elif len(parts) == 4 and parts[0] in _ERAS and all(p.isdigit() for p in parts[1:]):
            year = _ERAS[parts[0]] + int(parts[1]) - 1
            day = dt.date(year, int(parts[2]), int(parts[3]))
        else:
            return ""
    except (ValueError, KeyError):
        return ""
    return day.isoformat()


@dataclass(frozen=True)
class BlindIndexer:
    key: bytes = field(repr=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(b"kura-index-id" + self.key).hexdigest()[:16]

    def digest(self, field_name: str, value: str) -> str | None:
        field_name = index_field(field_name)
        normalised = normalise_for_index(field_name, value)
        if not normalised:
            return None
        message = f"kura-blind-index/v1/{field_name}/{normalised}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def index_document(
        self, session: Session, document: Document, values: Mapping[str, str]
    ) -> int:
        """Replace the document's blind indexes with those of ``values`` (clear values of
        its fields, as saved). Call again whenever a verifier changes an indexed field."""
        session.execute(delete(BlindIndex).where(BlindIndex.document_id == document.id))
        written = 0
        for name, value in values.items():
            if name not in INDEXED_FIELDS:
                continue
            digest = self.digest(name, value)
            if digest:
                session.add(
                    BlindIndex(document_id=document.id, field=name, digest=digest, key_id=self.id)
                )
                written += 1
        return written


def load_indexer(settings: Settings, keyring: Keyring | None = None) -> BlindIndexer:
    key = (
        _decode_key(settings.index_key, "KURA_INDEX_KEY")
        if settings.index_key
        else _key_from_file(index_key_file(settings.data_dir))
    )
    keyring = keyring or load_keyring(settings)
    if any(hmac.compare_digest(key, kek.key) for kek in (keyring.current, *keyring.previous)):
        raise ValueError("KURA_INDEX_KEY must not be a key-encryption key: use a key of its own")
    return BlindIndexer(key)


def find_documents(
    session: Session, indexer: BlindIndexer, field_name: str, value: str
) -> list[Document]:
    """Documents whose ``field_name`` has exactly ``value`` (after normalisation)."""
    field_name = index_field(field_name)
    digest = indexer.digest(field_name, value)
    if digest is None:
        return []
    return list(
        session.scalars(
            select(Document)
            .join(BlindIndex, BlindIndex.document_id == Document.id)
            .where(
                BlindIndex.field == field_name,
                BlindIndex.digest == digest,
                BlindIndex.key_id == indexer.id,
            )
            .order_by(Document.receipt_number)
        )
    )


def reindex_all(session: Session, vault: Vault, indexer: BlindIndexer) -> int:
    """Recompute every blind index (after a new index key): opens the sealed values."""
    count = 0
    documents = session.scalars(select(Document).where(Document.wrapped_key != b""))
    for document in documents:
        values = {
            f.name: vault.open_value(document, f"field:{f.name}:value", f.value_sealed)
            for f in document.fields
            if f.name in INDEXED_FIELDS
        }
        count += indexer.index_document(session, document, values)
    return count


# --- Retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    years: int = 0
    days: int = 0

    def after(self, start: dt.date) -> dt.date:
        year = start.year + self.years
        try:
            end = start.replace(year=year)
        except ValueError:  # 29 February
            end = start.replace(year=year, day=28)
        return end + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        return f"{self.years}y" if self.years else f"{self.days}d"


def parse_retention(setting: str) -> dict[str, Period | None]:
    """'qualification=10y,exemption=3650d,*=keep' → {class: Period or None (keep)}."""
    periods: dict[str, Period | None] = {}
    for part in setting.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip().lower()
        if not name or not value:
            raise ValueError(f"KURA_RETENTION: '{part.strip()}' is not class=period")
        if value in ("keep", "indefinite", "forever"):
            periods[name] = None
            continue
        match = re.fullmatch(r"(\d+)\s*([yd])", value)
        if not match:
            raise ValueError(f"KURA_RETENTION: '{value}' is not a period like 10y or 30d")
        amount = int(match.group(1))
        periods[name] = Period(years=amount) if match.group(2) == "y" else Period(days=amount)
    return periods


@dataclass(frozen=True)
class RetentionPolicy:
    mode: str = "GOVERNANCE"
    periods: Mapping[str, Period | None] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.object_lock_mode, parse_retention(settings.retention))

    def period_for(self, document_class: str) -> Period | None:
        if document_class in self.periods:
            return self.periods[document_class]
        return self.periods.get("*")

    def retain_until(self, document_class: str, received: dt.date) -> dt.date | None:
        period = self.period_for(document_class)
        return period.after(received) if period else None

    def intake_lock(self, today: dt.date | None = None) -> Lock:
        """The lock an original gets on arrival, before its class is known: retention for
        the shortest configured period, plus a legal hold while any class keeps
        indefinitely. Once the class is known the lock is only ever extended."""
        today = today or dt.date.today()
        finite = [p for p in (*self.periods.values(), self.periods.get("*")) if p]
        indefinite = "*" not in self.periods or any(p is None for p in self.periods.values())
        until = min((p.after(today) for p in finite), default=None) if finite else None
        return Lock(self.mode, _future(_midnight(until)) if until else None, indefinite)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), dt.UTC)


def _future(moment: dt.datetime | None) -> dt.datetime | None:
    """A retention date still ahead (a store refuses to lock until a past moment)."""
    return moment if moment is not None and moment > dt.datetime.now(dt.UTC) else None


def document_class(document: Document) -> str:
    from schemas.forms import get_form

    if not document.form_id:
        return "unclassified"
    try:
        return get_form(document.form_id).document_class
    except Exception:  # a form definition removed since: keep by the default
        return "unclassified"


def _active_holds(session: Session, document_ids: Iterable[str]) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold).where(
                LegalHold.document_id.in_(list(document_ids)), LegalHold.released_at.is_(None)
            )
        )
    )


def sync_original_lock(session: Session, vault: Vault, source: SourceFile) -> Lock:
    """Bring the lock of a file's original in line with its documents: retention until the
    latest end of their periods; legal hold while any keeps indefinitely or is held."""
    policy = vault.retention or RetentionPolicy()
    documents = [
        d
        for d in session.scalars(select(Document).where(Document.source_file_id == source.id))
        if d.disposed_at is None
    ]
    stored = session.get_one(StoredObject, source.object_id)
    if not documents or stored.destroyed_at is not None:
        return Lock(stored.lock_mode or policy.mode, stored.retain_until, stored.legal_hold)
    ends = [d.retain_until for d in documents]
    held = bool(_active_holds(session, (d.id for d in documents)))
    indefinite = any(end is None for end in ends)
    until = None if indefinite else _future(_midnight(max(e for e in ends if e is not None)))
    lock = Lock(stored.lock_mode or policy.mode, until, indefinite or held)
    vault.store.set_lock(stored.id, lock)
    current = _aware(stored.retain_until)
    if until is not None and (current is None or current < until):
        stored.retain_until, stored.lock_mode = until, lock.mode
    stored.legal_hold = lock.legal_hold
    return lock


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def document_saved(
    session: Session, vault: Vault, document: Document, values: Mapping[str, str]
) -> None:
    """After a document's fields are saved: its blind indexes and its retention."""
    if vault.indexer is not None:
        vault.indexer.index_document(session, document, values)
    if vault.retention is not None:
        document.retain_until = vault.retention.retain_until(
            document_class(document), document.received_date
        )
        session.flush()
        sync_original_lock(session, vault, session.get_one(SourceFile, document.source_file_id))


# --- Legal hold ---------------------------------------------------------------------------


def document_by_receipt(session: Session, receipt_number: str) -> Document:
    document = session.scalars(
        select(Document).where(Document.receipt_number == receipt_number)
    ).one_or_none()
    if document is None:
        raise CustodyError(f"no document {receipt_number}")
    return document


def set_hold(
    session: Session, vault: Vault, document: Document, reason: str, actor: str
) -> LegalHold:
    if not reason.strip():
        raise CustodyError("a legal hold needs a reason")
    if document.disposed_at is not None:
        raise CustodyError(f"{document.receipt_number} was disposed of: nothing to hold")
    hold = LegalHold(document_id=document.id, reason=reason.strip(), set_by=actor, set_at=utcnow())
    session.add(hold)
    session.flush()
    sync_original_lock(session, vault, session.get_one(SourceFile, document.source_file_id))
    return hold


def release_hold(
    session: Session, vault: Vault, document: Document, reason: str, actor: str
) -> int:
    if not reason.strip():
        raise CustodyError("releasing a legal hold needs a reason")
    holds = _active_holds(session, [document.id])
    if not holds:
        raise CustodyError(f"{document.receipt_number} has no legal hold")
    now = utcnow()
    for hold in holds:
        hold.released_by, hold.released_at, hold.release_reason = actor, now, reason.strip()
    session.flush()
    sync_original_lock(session, vault, session.get_one(SourceFile, document.source_file_id))
    return len(holds)


# --- Deletion refused before its time ------------------------------------------------------


def check_disposable(session: Session, document: Document, today: dt.date | None = None) -> None:
    """Raise RetentionError unless the document's retention allows disposal now."""
    today = today or dt.date.today()
    if document.disposed_at is not None:
        raise CustodyError(f"{document.receipt_number} was already disposed of")
    if document.status == "processing":
        raise CustodyError(f"{document.receipt_number} is still being read")
    if document.retain_until is not None and today < document.retain_until:
        raise RetentionError(
            f"{document.receipt_number} is under retention until "
            f"{document.retain_until.isoformat()}"
        )
    holds = _active_holds(session, [document.id])
    if holds:
        raise RetentionError(
            f"{document.receipt_number} is under legal hold since "
            f"{holds[0].set_at.date().isoformat()}"
        )


def delete_object(
    session: Session, vault: Vault, stored: StoredObject, now: dt.datetime | None = None
) -> None:
    """Remove an object's sealed bytes: Kura refuses while its recorded lock holds (and the
    store refuses on its own as well)."""
    now = now or dt.datetime.now(dt.UTC)
    recorded = Lock(
        stored.lock_mode or "GOVERNANCE", _aware(stored.retain_until), stored.legal_hold
    )
    if recorded.holds(now):
        until = recorded.retain_until.isoformat() if recorded.retain_until else "released"
        raise RetentionError(
            f"object {stored.id} is locked (retention until {until}, "
            f"legal hold {'on' if recorded.legal_hold else 'off'})"
        )
    vault.store.delete(stored.id)
    stored.store_removed = True


# --- Disposal -----------------------------------------------------------------------------


def _documents_of(session: Session, receipts: Iterable[str]) -> list[Document]:
    documents = [document_by_receipt(session, r) for r in dict.fromkeys(receipts)]
    if not documents:
        raise CustodyError("a disposal request names at least one document")
    return documents


def request_disposal(
    session: Session, receipts: list[str], reason: str, actor: str, today: dt.date | None = None
) -> DisposalRequest:
    if not reason.strip():
        raise CustodyError("a disposal request needs a reason")
    documents = _documents_of(session, receipts)
    named = {d.id for d in documents}
    for document in documents:
        check_disposable(session, document, today)
        siblings = session.scalars(
            select(Document).where(
                Document.source_file_id == document.source_file_id,
                Document.id.not_in(named),
                Document.disposed_at.is_(None),
            )
        ).all()
        if siblings:
            raise CustodyError(
                f"{document.receipt_number} shares its original scan with "
                f"{', '.join(s.receipt_number for s in siblings)}: name them too"
            )
    open_items = session.scalars(
        select(DisposalItem.receipt_number)
        .join(DisposalRequest)
        .where(DisposalItem.document_id.in_(named), DisposalRequest.status == "requested")
    ).all()
    if open_items:
        raise CustodyError(f"already in an open disposal request: {', '.join(open_items)}")
    day = today or dt.date.today()
    prefix = f"D{day:%Y%m%d}-"
    issued = (
        session.scalar(
            select(func.count())
            .select_from(DisposalRequest)
            .where(DisposalRequest.number.like(f"{prefix}%"))
        )
        or 0
    )
    request = DisposalRequest(
        number=f"{prefix}{issued + 1:03d}",
        reason=reason.strip(),
        status="requested",
        requested_by=actor,
        requested_at=utcnow(),
    )
    session.add(request)
    session.flush()
    for document in documents:
        session.add(
            DisposalItem(
                request_id=request.id,
                document_id=document.id,
                receipt_number=document.receipt_number,
            )
        )
    session.flush()
    return request


def disposal_by_number(session: Session, number: str) -> DisposalRequest:
    request = session.scalars(
        select(DisposalRequest).where(DisposalRequest.number == number)
    ).one_or_none()
    if request is None:
        raise CustodyError(f"no disposal request {number}")
    return request


def reject_disposal(session: Session, number: str, actor: str) -> DisposalRequest:
    request = disposal_by_number(session, number)
    if request.status != "requested":
        raise CustodyError(f"{number} is {request.status}, not waiting for a decision")
    request.status, request.decided_by, request.decided_at = "rejected", actor, utcnow()
    return request


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def approve_disposal(
    session: Session, vault: Vault, number: str, actor: str, today: dt.date | None = None
) -> dict[str, Any]:
    """The second person approves: destroy the data keys, remove what the store lets go,
    and return the certificate (also kept on the request, with its SHA-256)."""
    request = disposal_by_number(session, number)
    if request.status != "requested":
        raise CustodyError(f"{number} is {request.status}, not waiting for approval")
    if actor == request.requested_by:
        raise FourEyesError(
            f"{number} was requested by {actor}: a different person must approve it"
        )
    documents = [session.get_one(Document, item.document_id) for item in request.items]
    for document in documents:
        check_disposable(session, document, today)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))
    now = utcnow()
    object_lines: list[dict[str, Any]] = []
    document_lines: list[dict[str, Any]] = []
    sources: dict[str, SourceFile] = {}
    for document in documents:
        pages = session.scalars(select(Page).where(Page.document_id == document.id)).all()
        objects = [
            session.get_one(StoredObject, p.image_object_id) for p in pages if p.image_object_id
        ]
        source = session.get_one(SourceFile, document.source_file_id)
        sources[source.id] = source
        fields = session.scalars(
            select(FieldValue).where(FieldValue.document_id == document.id)
        ).all()
        indexes = len(
            session.scalars(
                select(BlindIndex.id).where(BlindIndex.document_id == document.id)
            ).all()
        )
        session.execute(delete(BlindIndex).where(BlindIndex.document_id == document.id))
        document_lines.append(
            {
                "receipt_number": document.receipt_number,
                "document_id": document.id,
                "form_id": document.form_id,
                "received_date": document.received_date.isoformat(),
                "retain_until": document.retain_until.isoformat()
                if document.retain_until
                else "indefinite",
                "data_key_sha256": _sha256(document.wrapped_key),
                "field_values_destroyed": len(fields),
                "sealed_values_sha256": _sha256(
                    b"".join(f.value_sealed + f.raw_sealed for f in fields)
                ),
                "blind_indexes_removed": indexes,
            }
        )
        for value in fields:
            session.delete(value)
        for page in pages:
            page.result_sealed = None
        document.wrapped_key, document.kek_id = b"", ""
        document.status, document.disposed_at, document.disposal_id = "disposed", now, request.id
        for stored in objects:
            object_lines.append(_destroy_object(session, vault, stored, now))
    session.flush()
    for source in sources.values():
        stored = session.get_one(StoredObject, source.object_id)
        if stored.destroyed_at is None:
            object_lines.append(_destroy_object(session, vault, stored, now))
        source.filename = "(disposed)"  # a scanner's file name may name the person
    request.status, request.decided_by, request.decided_at = "done", actor, now
    certificate = {
        "title": "Kura disposal certificate (廃棄・消去証明書)",
        "number": request.number,
        "date": now.isoformat(),
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at.replace(tzinfo=dt.UTC).isoformat()
        if request.requested_at.tzinfo is None
        else request.requested_at.isoformat(),
        "approved_by": actor,
        "approved_at": now.isoformat(),
        "method": ERASE_METHOD,
        "documents": document_lines,
        "objects": object_lines,
    }
    canonical = canonical_json(certificate)
    request.certificate, request.certificate_sha256 = canonical, _sha256(canonical.encode())
    session.flush()
    return certificate


def _destroy_object(
    session: Session, vault: Vault, stored: StoredObject, now: dt.datetime
) -> dict[str, Any]:
    """Cryptographic erase of one object, then removal of its versions where allowed."""
    try:
        sealed: bytes | None = vault.store.get(stored.id)
    except Exception:  # already gone from the store
        sealed = None
    line: dict[str, Any] = {
        "object_id": stored.id,
        "kind": stored.kind,
        "size": stored.size,
        "content_sha256": stored.sha256,
        "sealed_sha256": _sha256(sealed) if sealed is not None else None,
        "data_key_sha256": _sha256(stored.wrapped_key),
    }
    stored.wrapped_key, stored.kek_id, stored.destroyed_at = b"", "", now
    if stored.legal_hold:
        stored.legal_hold = False
        vault.store.set_lock(stored.id, Lock(stored.lock_mode or "GOVERNANCE", None, False))
    try:
        delete_object(session, vault, stored, now)
        line["store"] = "all versions removed"
    except (RetentionError, ObjectLocked):
        until = _aware(stored.retain_until)
        line["store"] = (
            "sealed bytes kept by the store's retention until "
            f"{until.isoformat() if until else '?'}; unreadable without the key"
        )
    line["store_removed"] = stored.store_removed
    return line


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def disposal_lines(session: Session) -> list[DisposalRequest]:
    return list(session.scalars(select(DisposalRequest).order_by(DisposalRequest.number)))


def purge_remnants(session: Session) -> str:
    """After disposal is committed: shrink what the database keeps of old row versions."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return "SQLite: secure_delete on, write-ahead log checkpointed and truncated"
    return (
        "PostgreSQL: old row versions stay until VACUUM; the database owner runs "
        "VACUUM on document, stored_object, field_value and blind_index"
    )


def write_certificate(certificate: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """The certificate as JSON (canonical, the bytes its SHA-256 is over) and as PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    canonical = canonical_json(certificate)
    json_path = folder / f"{certificate['number']}.json"
    json_path.write_text(canonical, encoding="utf-8")
    pdf_path = folder / f"{certificate['number']}.pdf"
    _certificate_pdf(certificate, _sha256(canonical.encode()), pdf_path)
    return json_path, pdf_path


_CJK_FONT = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")


def _certificate_pdf(certificate: dict[str, Any], digest: str, path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    def font(size: int) -> Any:
        if _CJK_FONT.exists():
            return ImageFont.truetype(str(_CJK_FONT), size)
        return ImageFont.load_default(size=size)

    lines: list[tuple[int, str]] = [
        (34, certificate["title"]),
        (22, f"Certificate {certificate['number']}   date {certificate['date'][:19]}Z"),
        (22, f"Method: {certificate['method']}"),
        (22, f"Requested by {certificate['requested_by']} at {certificate['requested_at'][:19]}"),
        (22, f"Approved by {certificate['approved_by']} at {certificate['approved_at'][:19]}"),
        (22, f"Reason: {certificate['reason']}"),
        (22, ""),
        (26, f"Documents ({len(certificate['documents'])})"),
    ]
    for doc in certificate["documents"]:
        lines += [
            (
                20,
                f"{doc['receipt_number']}  form {doc['form_id']}  received "
                f"{doc['received_date']}  retention {doc['retain_until']}",
            ),
            (18, f"   data key sha256 {doc['data_key_sha256']}"),
            (
                18,
                f"   {doc['field_values_destroyed']} sealed field values, sha256 "
                f"{doc['sealed_values_sha256']}",
            ),
        ]
    lines += [(22, ""), (26, f"Objects ({len(certificate['objects'])})")]
    for obj in certificate["objects"]:
        lines += [
            (20, f"{obj['object_id']}  {obj['kind']}  {obj['size']} bytes"),
            (18, f"   content sha256 {obj['content_sha256']}"),
            (18, f"   sealed  sha256 {obj['sealed_sha256']}"),
            (18, f"   data key sha256 {obj['data_key_sha256']}"),
            (18, f"   store: {obj['store']}"),
        ]
    lines += [(22, ""), (20, f"SHA-256 of the JSON certificate: {digest}")]
    width, height, margin = 1240, 1754, 70  # A4 at 150 dpi
    pages: list[Image.Image] = []
    page = draw = None
    y = height
    for size, line in lines:
        if y + size + 12 > height - margin:
            page = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(page)
            pages.append(page)
            y = margin
        assert draw is not None
        draw.text((margin, y), line, fill="black", font=font(size))
        y += size + 12
    pages[0].save(
        path,
        "PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=150,
        title=f"Disposal certificate {certificate['number']}",
    )
