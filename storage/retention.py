"""Retention and legal hold: how long each document class is kept, the Object Lock of its
original, and the holds that stop disposal.

Each document class has a period (default: keep indefinitely). Originals are written under
an Object Lock: retention (GOVERNANCE or COMPLIANCE) until the end of the period, and a
legal hold while the period is indefinite or a hold is set. The store refuses deletion;
Kura refuses first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.i18n import _
from schemas.settings import Settings
from storage import receipts
from storage.blind_index import BlindIndexer
from storage.custody import CustodyError, RetentionError
from storage.models import Document, LegalHold, SourceFile, StoredObject, utcnow
from storage.objects import Lock
from storage.vault import Vault

DEFAULT_LOCK_MODE = "GOVERNANCE"

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


CLASS_DEFAULTS: dict[str, Period | None] = {
    "mail_receipt": Period(years=3),
}
"""Classes with a period of their own unless KURA_RETENTION names them: the 書留の差出票 of a
進達 is kept 3 years (DOMAIN.md §3.8, control 45)."""


@dataclass(frozen=True)
class RetentionPolicy:
    mode: str = DEFAULT_LOCK_MODE
    periods: Mapping[str, Period | None] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.object_lock_mode, parse_retention(settings.retention))

    def period_for(self, document_class: str) -> Period | None:
        if document_class in self.periods:
            return self.periods[document_class]
        if document_class in CLASS_DEFAULTS:
            return CLASS_DEFAULTS[document_class]
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


def class_lock(policy: RetentionPolicy, record_class: str, start: dt.date) -> Lock:
    """The lock of a record kept by its own class from `start` (a 差出票's 3 years): retention
    to the end of the period, or a legal hold when the class keeps it indefinitely."""
    period = policy.period_for(record_class)
    until = _future(_midnight(period.after(start))) if period else None
    return Lock(policy.mode, until, legal_hold=period is None)


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
    documents = [
        d
        for d in session.scalars(select(Document).where(Document.source_file_id == source.id))
        if d.disposed_at is None
    ]
    stored = session.get_one(StoredObject, source.object_id)
    if not documents or stored.destroyed_at is not None:
        return Lock(stored.lock_mode or DEFAULT_LOCK_MODE, stored.retain_until, stored.legal_hold)
    ends = [d.retain_until for d in documents]
    held = bool(_active_holds(session, (d.id for d in documents)))
    indefinite = any(end is None for end in ends)
    until = None if indefinite else _future(_midnight(max(e for e in ends if e is not None)))
    lock = Lock(stored.lock_mode or DEFAULT_LOCK_MODE, until, indefinite or held)
    vault.store.set_lock(stored.id, lock)
    current = as_aware(stored.retain_until)
    if until is not None and (current is None or current < until):
        stored.retain_until, stored.lock_mode = until, lock.mode
    stored.legal_hold = lock.legal_hold
    return lock


def as_aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def document_saved(
    session: Session,
    vault: Vault,
    document: Document,
    values: Mapping[str, str],
    indexer: BlindIndexer,
    policy: RetentionPolicy,
) -> None:
    """After a document's fields are saved: its blind indexes and its retention."""
    indexer.index_document(session, document, values)
    document.retain_until = policy.retain_until(document_class(document), document.received_date)
    session.flush()
    sync_original_lock(session, vault, session.get_one(SourceFile, document.source_file_id))

# --- Legal hold ---------------------------------------------------------------------------


def document_by_receipt(session: Session, receipt_number: str, own: str) -> Document:
    """The document a 受付番号 names (the office's own where two municipalities hold it)."""
    document = receipts.document_by_receipt(session, receipt_number, own)
    if document is None:
        raise CustodyError(_("no document {receipt_number}").format(receipt_number=receipt_number))
    return document


def set_hold(
    session: Session, vault: Vault, document: Document, reason: str, actor: str
) -> LegalHold:
    if not reason.strip():
        raise CustodyError(_("a legal hold needs a reason"))
    if document.disposed_at is not None:
        raise CustodyError(_(
            "{receipt_number} was disposed of: nothing to hold").format(
                receipt_number=document.receipt_number))
    hold = LegalHold(document_id=document.id, reason=reason.strip(), set_by=actor, set_at=utcnow())
    session.add(hold)
    session.flush()
    sync_original_lock(session, vault, session.get_one(SourceFile, document.source_file_id))
    return hold


def release_hold(
    session: Session, vault: Vault, document: Document, reason: str, actor: str
) -> int:
    if not reason.strip():
        raise CustodyError(_("releasing a legal hold needs a reason"))
    holds = _active_holds(session, [document.id])
    if not holds:
        raise CustodyError(_(
            "{receipt_number} has no legal hold").format(receipt_number=document.receipt_number))
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
        raise CustodyError(_(
            "{receipt_number} was already disposed of").format(
                receipt_number=document.receipt_number))
    if document.status == "processing":
        raise CustodyError(_(
            "{receipt_number} is still being read").format(receipt_number=document.receipt_number))
    if document.retain_until is not None and today < document.retain_until:
        raise RetentionError(
            _(
                "{receipt_number} is under retention until {value}").format(
                    receipt_number=document.receipt_number, value=document.retain_until.isoformat())
        )
    holds = _active_holds(session, [document.id])
    if holds:
        raise RetentionError(
            _(
                "{receipt_number} is under legal hold since {value}").format(
                    receipt_number=document.receipt_number,
                    value=holds[0].set_at.date().isoformat())
        )


def delete_object(
    session: Session, vault: Vault, stored: StoredObject, now: dt.datetime | None = None
) -> None:
    """Remove an object's sealed bytes: Kura refuses while its recorded lock holds (and the
    store refuses on its own as well)."""
    now = now or dt.datetime.now(dt.UTC)
    recorded = Lock(
        stored.lock_mode or DEFAULT_LOCK_MODE, as_aware(stored.retain_until), stored.legal_hold
    )
    if recorded.holds(now):
        until = recorded.retain_until.isoformat() if recorded.retain_until else "released"
        raise RetentionError(
            _(
                "object {id} is locked (retention until {until}, legal hold {value})").format(
                    id=stored.id, until=until, value='on' if recorded.legal_hold else 'off')
        )
    vault.store.delete(stored.id)
    stored.store_removed = True


