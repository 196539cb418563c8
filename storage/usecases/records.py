"""Records: the verification queue, opening an original with a reason, and exact-match
search through the blind indexes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from schemas.errors import InvalidInput, KuraError, NotFound
from schemas.i18n import _
from schemas.settings import Settings
from storage.accounts import token_digest
from storage.blind_index import find_documents, index_field
from storage.models import Document, OriginalGrant, SourceFile, StoredObject
from storage.queries import QueueLine, waiting_queue
from storage.receipts import document_by_receipt, shown
from storage.usecases.base import Token, Work, acting

MIN_REASON = 4
"""The shortest reason accepted for opening an original (a word and a case number)."""


def verification_queue(settings: Settings, token: Token) -> list[QueueLine]:
    """Documents waiting for verification, masked: no 個人番号, no full name."""
    with acting(settings, token, "queue.read", "queue.list") as work:
        lines = waiting_queue(work.session, work.vault, municipality=work.municipality)
        receipts = [line.receipt_number for line in lines]
        listed = (
            work.session.scalars(
                select(Document.id).where(Document.receipt_number.in_(receipts))
            ).all()
            if receipts
            else []
        )
        work.audit("queue.list", listed, result="ok", detail={"documents": len(lines)})
    return lines


@dataclass(frozen=True)
class Original:
    receipt_number: str
    data: bytes
    """The original scan as it arrived, decrypted and checked against its SHA-256."""
    pages: list[int]
    opened_by: str
    opened_at: dt.datetime
    purpose: str


def open_original(settings: Settings, token: Token, receipt_number: str,
                  reason: str, plain_why: str | None = None, view_minutes: int = 0) -> Original:
    """A document's original scan (records manager), the one way every front end opens it.
    Every opening is recorded with its reason as its purpose, attempts that fail included;
    the failure is raised after. With `plain_why` the caller may hand it over unencrypted
    (a download): that takes the download permission, and why is recorded too. With
    `view_minutes` the session may fetch the pages for that long under the same purpose
    (records_room.original_page: the rooms show them watermarked)."""
    purpose = reason.strip()
    if plain_why is not None and len(plain_why.strip()) < MIN_REASON:
        raise InvalidInput(_("say why the original leaves Kura unencrypted"),
                           hint=_("--plain WHY: the case that needs the file as it is"))
    if len(purpose) < MIN_REASON:
        raise InvalidInput(_("say why the original is opened"),
                           hint=_(
                               "--reason: a reason and case reference, never a name or number of "
                               "the person"))
    failure: KuraError | None = None
    data, pages = b"", []
    action = "original.open" if plain_why is None else "original.download"
    why = {} if plain_why is None else {"why": plain_why.strip()}
    with acting(settings, token, action) as work:
        document = document_by_receipt(work.session, receipt_number,
                                       settings.municipality_code)
        if document is None or document.disposed_at is not None:
            work.audit(action, [document.id] if document else [], purpose=purpose,
                       result="not_found", detail={"receipt_number": receipt_number, **why})
            failure = NotFound((_("no document {receipt_number}") if document is None
                                else _("{receipt_number} was disposed of")).format(
                                    receipt_number=receipt_number))
        else:
            source = work.session.get_one(SourceFile, document.source_file_id)
            opened = [document.id, source.id, source.object_id]
            try:
                data = work.vault.get_object(
                    work.session.get_one(StoredObject, source.object_id))
            except Exception as error:  # the attempt is recorded too, then reported
                work.audit(action, opened, purpose=purpose,
                           result=f"failed:{type(error).__name__}", detail=why or None)
                failure = error if isinstance(error, KuraError) else KuraError(
                    _("cannot open the original of {receipt_number}: {error}").format(
                        receipt_number=receipt_number, error=type(error).__name__))
            else:
                work.audit(action, opened, purpose=purpose, result="ok", detail=why or None)
                pages = [p.number for p in document.pages]
                if view_minutes:
                    _grant_viewing(work, document, token, purpose, view_minutes)
        opened_by = work.actor.name
    if failure is not None:
        raise failure
    return Original(receipt_number, data, pages, opened_by, dt.datetime.now(dt.UTC), purpose)


def _grant_viewing(work: Work, document: Document, token: Token, purpose: str,
                   minutes: int) -> None:
    """Kept in the database, so any web process serves the pages, and only to this session."""
    raw = token() if callable(token) else token
    work.session.add(OriginalGrant(
        token_sha256=token_digest(raw or ""), document_id=document.id,
        purpose_sealed=work.vault.seal_value(document, GRANT_PURPOSE, purpose),
        until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)))


GRANT_PURPOSE = "grant:purpose"
"""What a grant's purpose is sealed as, under the document's key."""


def searchable_field(name: str) -> str:
    """The indexed field a name or alias stands for (基礎年金番号 → basic_pension_number)."""
    return index_field(name)


@dataclass(frozen=True)
class FoundRecord:
    receipt_number: str
    status: str
    form_id: str


def find_records(settings: Settings, token: Token, field: str, value: str) -> list[FoundRecord]:
    """Exact-match search through the blind indexes (a record reader); names 受付番号
    only. The value is never recorded, the field and the count are."""
    field = searchable_field(field)
    with acting(settings, token, "record.read", "record.search") as work:
        found = find_documents(work.session, work.indexer, field, value)
        work.audit("record.search", [d.id for d in found], result="ok",
                   detail={"field": field, "found": len(found)})
        # another municipality's number qualified (011002:R…), so that naming it finds it
        return [FoundRecord(shown(d, settings.municipality_code), d.status, d.form_id or "")
                for d in found]
