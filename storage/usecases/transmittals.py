"""進達: sending verified (and forward-only) documents on to 日本年金機構 (DOMAIN.md §5.3,
§8.5; controls 40–47).

One person prepares a batch; another checks its addressee and contents and releases it
(never the same person: the server refuses). Releasing builds the 送付書, the 送付内容内訳書
and the records inside an AES-256 ZIP whose password is generated then and handed back once,
to the releasing person; Kura keeps the archive sealed and its SHA-256, never the password.
Every batch is a line of the 記録媒体管理台帳 (media ledger); the 書留番号 and the scan of the
差出票 (kept 3 years) are added when it is posted.

The documents themselves are made by the pipeline (pipeline/transmittal.py): the caller hands
in `build`, as intake's checks are handed in (workers/transmittal.py does it for the CLI)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from schemas.errors import Conflict, InvalidInput, NotAllowed, NotFound
from schemas.i18n import _
from schemas.settings import Settings
from schemas.transmittal import TransmittalItem
from storage.models import Document, StoredObject, next_dated_number
from storage.receipts import qualified, qualified_as
from storage.register import form_of, move, open_value, sync_entries
from storage.register_models import RegisterEntry, Transmittal
from storage.retention import class_lock
from storage.usecases.base import Token, Work, acting

PURPOSE = "国民年金関係届書等の進達"


class SamePerson(NotAllowed):
    """Two people release a batch: the one who prepared it may not."""

    code = "four_eyes"


@dataclass(frozen=True)
class Contents:
    number: str
    prepared_on: dt.date
    addressee: str
    sender: str
    municipality_code: str
    purpose: str
    items: tuple[TransmittalItem, ...]


class Package(Protocol):
    @property
    def cover_note_pdf(self) -> bytes: ...
    @property
    def archive(self) -> bytes: ...
    @property
    def archive_sha256(self) -> str: ...
    @property
    def password(self) -> str: ...


Build = Callable[[Contents], Package]


@dataclass(frozen=True)
class Batch:
    """A batch as the checker sees it before releasing: no personal value."""

    number: str
    status: str
    addressee: str
    purpose: str
    prepared_by: str
    prepared_at: dt.datetime
    released_by: str | None
    items: list[tuple[str, str, str, int]]
    """(受付番号, form title, 届書区分, pages)"""


@dataclass(frozen=True)
class Released:
    number: str
    items: int
    archive: bytes
    """The AES-256 ZIP, to be written to the medium."""
    archive_sha256: str
    cover_note_pdf: bytes
    password: str
    """Shown once, to the releasing person; Kura does not keep it."""


@dataclass(frozen=True)
class LedgerLine:
    """One line of the 記録媒体管理台帳."""

    number: str
    status: str
    purpose: str
    item_count: int
    prepared_by: str
    prepared_at: dt.datetime
    released_by: str | None
    released_at: dt.datetime | None
    archive_sha256: str | None
    registered_mail_number: str | None
    mail_receipt_kept: bool


def _batch(work: Work, number: str) -> Transmittal:
    found = work.session.scalars(
        select(Transmittal).where(Transmittal.number == number)).one_or_none()
    if found is None:
        raise NotFound(_("No 進達 batch {number}").format(number=number))
    work.subject_ids = [found.id]
    return found


def _members(work: Work, batch: Transmittal) -> list[tuple[RegisterEntry, Document]]:
    return list(work.session.execute(
        select(RegisterEntry, Document).join(Document, Document.id == RegisterEntry.document_id)
        .where(RegisterEntry.transmittal_id == batch.id)
        .order_by(Document.receipt_number)).all())


def prepare(settings: Settings, token: Token, receipts: Sequence[str] = (),
            purpose: str = PURPOSE, addressee: str = "") -> Batch:
    """A new batch of every verified (or forward-only) document not yet in one, or of the
    given 受付番号 only."""
    with acting(settings, token, "transmittal.prepare", "transmittal.prepare") as work:
        sync_entries(work.session, work.vault, settings)
        ready = list(work.session.execute(
            select(RegisterEntry, Document).join(Document, Document.id == RegisterEntry.document_id)
            .where(RegisterEntry.stage == "verified", RegisterEntry.transmittal_id.is_(None),
                   Document.disposed_at.is_(None),
                   Document.municipality == work.municipality)
            .order_by(Document.receipt_number)).all())
        if receipts:  # the office's own only: another municipality sends its own 進達
            by_number = {qualified(d): e for e, d in ready}
            named = {r: qualified_as(r, work.municipality) for r in receipts}
            missing = [r for r in receipts if named[r] not in by_number]
            if missing:
                raise Conflict(_("Not ready to forward: {receipts}").format(
                    receipts=", ".join(missing)), hint=_(
                    "a document is forwarded once it is verified (forward-only classes once "
                    "read), and in one batch only"))
            entries = [by_number[named[r]] for r in receipts]
        else:
            entries = [e for e, _d in ready]
        if not entries:
            raise Conflict(_("Nothing is ready to forward"))
        today = dt.date.today()
        batch = Transmittal(
            number=next_dated_number(work.session, Transmittal.number, "S", today, 3),
            addressee=addressee.strip() or settings.jps_addressee,
            purpose=purpose.strip() or PURPOSE, item_count=len(entries),
            prepared_by=work.actor.name)
        work.session.add(batch)
        work.session.flush()
        for entry in entries:
            entry.transmittal_id = batch.id
        work.audit("transmittal.prepare", [batch.id, *(e.document_id or "" for e in entries)],
                   result="ok", detail={"items": len(entries)})
        return _view(work, batch)


def _view(work: Work, batch: Transmittal) -> Batch:
    items = []
    for entry, document in _members(work, batch):
        form = form_of(entry.form_id)
        items.append((document.receipt_number, form.title if form else "",
                      entry.notification_type, len(document.pages)))
    return Batch(batch.number, batch.status, batch.addressee, batch.purpose, batch.prepared_by,
                 batch.prepared_at, batch.released_by, items)


def show(settings: Settings, token: Token, number: str) -> Batch:
    with acting(settings, token, "register.read", "transmittal.show") as work:
        batch = _batch(work, number)
        view = _view(work, batch)
        work.audit("transmittal.show", [batch.id], result="ok")
        return view


def release(settings: Settings, token: Token, number: str, addressee: str, items: int,
            build: Build) -> Released:
    """The second person checks the addressee and the count of items (typed as they read
    them on the batch) and releases it: the archive is built, sealed in the store and its
    SHA-256 entered in the media ledger; the documents are forwarded."""
    with acting(settings, token, "transmittal.release", "transmittal.release") as work:
        batch = _batch(work, number)
        if batch.status != "prepared":
            raise Conflict(_("{number} was already released").format(number=number))
        if batch.prepared_by == work.actor.name:
            raise SamePerson(_("You prepared {number}: another person checks and releases "
                               "it").format(number=number))
        if addressee.strip() != batch.addressee or items != batch.item_count:
            raise InvalidInput(_("The addressee or the number of items differs from the "
                                 "batch: check it again"))
        members = _members(work, batch)
        today = dt.date.today()
        contents = Contents(
            number=batch.number, prepared_on=today, addressee=batch.addressee,
            sender=settings.office_of(work.municipality) or work.municipality,
            municipality_code=work.municipality, purpose=batch.purpose,
            items=tuple(_item(work, entry, document) for entry, document in members))
        package = build(contents)
        stored = work.vault.put_object(work.session, "transmittal", package.archive)
        batch.archive_object_id, batch.archive_sha256 = stored.id, package.archive_sha256
        batch.status, batch.released_by = "released", work.actor.name
        batch.released_at = dt.datetime.now(dt.UTC)
        for entry, _document in members:
            move(entry, "forwarded")
            entry.forwarded_on = today
        work.audit("transmittal.release", [batch.id, stored.id, *(d.id for _e, d in members)],
                   result="ok", detail={"items": len(members), "sha256": package.archive_sha256})
        return Released(batch.number, len(members), package.archive, package.archive_sha256,
                        package.cover_note_pdf, package.password)


def _item(work: Work, entry: RegisterEntry, document: Document) -> TransmittalItem:
    form = form_of(entry.form_id)
    return TransmittalItem(
        receipt_number=document.receipt_number, form_title=form.title if form else "",
        notification_type=entry.notification_type,
        basic_pension_number=open_value(work.vault, document, "basic_pension_number"),
        name_kana=open_value(work.vault, document, "name_kana"),
        received_date=document.received_date, pages=len(document.pages))


def registered_mail(settings: Settings, token: Token, number: str, mail_number: str,
                    receipt_scan: bytes | None = None) -> None:
    """Enter the 書留番号 of a released batch, and keep the scan of its 差出票 under a lock
    of its own retention class (mail_receipt: 3 years unless KURA_RETENTION says)."""
    mail_number = mail_number.strip()
    if not mail_number or len(mail_number) > 30:
        raise InvalidInput(_("Give the registered-mail number as printed on the receipt"))
    with acting(settings, token, "transmittal.prepare", "transmittal.mail") as work:
        batch = _batch(work, number)
        if batch.status != "released":
            raise Conflict(_("{number} is not released yet").format(number=number))
        batch.registered_mail_number, batch.registered_mail_by = mail_number, work.actor.name
        kept = []
        if receipt_scan:
            stored = work.vault.put_object(work.session, "mail_receipt", receipt_scan)
            _lock_for(work, stored)
            batch.mail_receipt_object_id = stored.id
            kept.append(stored.id)
        work.audit("transmittal.mail", [batch.id, *kept], result="ok",
                   detail={"receipt_scan": bool(receipt_scan)})


def _lock_for(work: Work, stored: StoredObject) -> None:
    lock = class_lock(work.retention, "mail_receipt", dt.date.today())
    work.vault.store.set_lock(stored.id, lock)
    stored.lock_mode, stored.retain_until = lock.mode, lock.retain_until
    stored.legal_hold = lock.legal_hold


def ledger(settings: Settings, token: Token) -> list[LedgerLine]:
    """The 記録媒体管理台帳: every batch, newest first."""
    with acting(settings, token, "register.read", "transmittal.ledger") as work:
        lines = [LedgerLine(
            b.number, b.status, b.purpose, b.item_count, b.prepared_by, b.prepared_at,
            b.released_by, b.released_at, b.archive_sha256, b.registered_mail_number,
            b.mail_receipt_object_id is not None)
            for b in work.session.scalars(select(Transmittal).order_by(
                Transmittal.prepared_at.desc()))]
        work.audit("transmittal.ledger", result="ok", detail={"lines": len(lines)})
        return lines
