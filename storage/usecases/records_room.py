"""The records room's own work, beside storage/usecases/records.py, holds.py and disposal.py:
search narrowed by form and dates (a 個人番号 only for a stated purpose, control 16), an
original's pages viewed for a purpose chosen from a list, the download as a permission of its
own, a person's whole file for a 開示請求, and disposal refused for documents nobody ever
verified unless the records manager says why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from schemas.errors import Conflict, InvalidInput, NotAllowed, NotFound
from schemas.forms import get_form
from schemas.i18n import _
from schemas.settings import Settings
from storage import disposal
from storage.accounts import token_digest
from storage.blind_index import find_documents
from storage.models import Document, LegalHold, OriginalGrant, StoredObject
from storage.receipts import numbered, shown
from storage.retention import document_by_receipt
from storage.usecases import records
from storage.usecases.base import Work, acting
from storage.usecases.records import Original
from storage.usecases.verification import never_verified

SEARCHABLE = ("receipt_number", "basic_pension_number", "my_number", "name_kana",
              "birth_date")
PURPOSE_NEEDED = ("my_number",)
"""A search by 個人番号 states why (control 16: the number is used only for what the law
allows, and each use is recorded)."""
PURPOSES = ("disclosure_request", "inquiry", "correction", "audit", "legal", "other")
"""Why an original is opened: 開示請求, 照会対応, 訂正の確認, 監査, 法的対応, その他."""


class RecordsError(Conflict):
    code = "records"


@dataclass(frozen=True)
class Found:
    receipt_number: str
    received_date: dt.date
    form_id: str | None
    form_title: str
    status: str
    held: bool


def search(settings: Settings, token: str | None, field: str, value: str, purpose: str = "",
           form_id: str = "", received_from: dt.date | None = None,
           received_to: dt.date | None = None) -> list[Found]:
    """Documents whose `field` is `value` (exactly, after normalisation), narrowed by form and
    receipt dates. Identifiers are matched by their blind index, never by opening values."""
    if field not in SEARCHABLE:
        raise InvalidInput(_("search by one of {value}").format(value=', '.join(SEARCHABLE)))
    if field in PURPOSE_NEEDED and not purpose.strip():
        raise InvalidInput(_("a search by 個人番号 needs a stated purpose"))
    with acting(settings, token, "record.read") as work:
        if field == "receipt_number":
            documents = numbered(work.session, value)
        else:
            documents = find_documents(work.session, work.indexer, field, value)
        documents = [d for d in documents if d.disposed_at is None
                     and (not form_id or d.form_id == form_id)
                     and (received_from is None or d.received_date >= received_from)
                     and (received_to is None or d.received_date <= received_to)]
        work.audit("record.search", [d.id for d in documents], result="ok",
                   purpose=purpose.strip() or None,
                   detail={"field": field, "found": len(documents)})
        return [_found(work, d) for d in documents]


def _found(work: Work, document: Document) -> Found:
    form = get_form(document.form_id) if document.form_id else None
    held = work.session.scalars(select(LegalHold.id).where(
        LegalHold.document_id == document.id, LegalHold.released_at.is_(None))).first()
    return Found(shown(document, work.settings.municipality_code), document.received_date,
                 document.form_id, form.title if form else "", document.status,
                 held is not None)


@dataclass(frozen=True)
class FiledDocument:
    found: Found
    fields: list[tuple[str, str]]
    """(label, current value) in the order of the form."""


def person_file(settings: Settings, token: str | None, field: str, value: str,
                purpose_text: str) -> list[FiledDocument]:
    """Everything filed about one person, for a disclosure request (開示請求): every
    document found by the identifier, with its current values. Opens values, so it is the
    original.open duty with a stated purpose, and recorded."""
    if field not in ("basic_pension_number", "my_number"):
        raise InvalidInput(_("a person's file is found by 基礎年金番号 or 個人番号"))
    purpose = _purpose("disclosure_request", purpose_text)
    with acting(settings, token, "original.open", "record.disclosure") as work:
        documents = [d for d in find_documents(work.session, work.indexer, field, value)
                     if d.disposed_at is None]
        filed = []
        for document in documents:
            form = get_form(document.form_id) if document.form_id else None
            filed.append(FiledDocument(_found(work, document), [
                (form.field(f.name).label if form else f.name,
                 work.vault.open_value(document, f"field:{f.name}:value", f.value_sealed))
                for f in document.fields]))
        work.audit("record.disclosure", [d.id for d in documents], result="ok",
                   purpose=purpose, detail={"field": field, "documents": len(documents)})
        return filed


def _purpose(code: str, text: str) -> str:
    if code not in PURPOSES:
        raise InvalidInput(_("choose a purpose: {value}").format(value=', '.join(PURPOSES)))
    if not text.strip():
        raise InvalidInput(_("say in a few words why the original is opened"))
    return f"{code}: {text.strip()}"


VIEWING_MINUTES = 15
"""How long an original opened in the rooms may have its pages fetched under its purpose."""


class NotOpened(NotAllowed):
    """A page of an original asked for by a session that did not open it (or long ago)."""

    code = "not_opened"


def open_original(settings: Settings, token: str | None, receipt_number: str,
                  purpose_code: str, purpose_text: str) -> Original:
    """Open a document's original for a purpose chosen from the list, in a few words; its
    pages are then shown with `original_page` to this session, for a while."""
    return records.open_original(settings, token, receipt_number,
                                 _purpose(purpose_code, purpose_text),
                                 view_minutes=VIEWING_MINUTES)


def original_page(settings: Settings, token: str | None, receipt_number: str,
                  number: int) -> tuple[bytes, str]:
    """One page of an original this session opened (JPEG), and who is looking, for the
    watermark; each view is recorded under the purpose stated when it was opened."""
    with acting(settings, token, "original.open", "original.view") as work:
        document = _document(work, receipt_number)
        work.subject_ids = [document.id]
        now = dt.datetime.now(dt.UTC)
        grant = next((g for g in work.session.scalars(
            select(OriginalGrant).where(OriginalGrant.token_sha256 == token_digest(token or ""),
                                        OriginalGrant.document_id == document.id)
            .order_by(OriginalGrant.until.desc()))
            if (g.until if g.until.tzinfo else g.until.replace(tzinfo=dt.UTC)) > now), None)
        if grant is None:
            raise NotOpened(f"open the original of {receipt_number} first, saying why")
        purpose = work.vault.open_value(document, records.GRANT_PURPOSE, grant.purpose_sealed)
        page = next((p for p in document.pages if p.number == number), None)
        if page is None or page.image_object_id is None:
            raise NotFound(_(
                "{receipt_number} has no page {number}").format(
                    receipt_number=receipt_number, number=number))
        data = work.vault.get_object(work.session.get_one(StoredObject, page.image_object_id))
        work.audit("original.view", [document.id, page.id], result="ok", purpose=purpose,
                   detail={"page": number})
        return data, work.actor.name


def download_original(settings: Settings, token: str | None, receipt_number: str,
                      purpose_code: str, purpose_text: str) -> bytes:
    """The original file as it arrived, checked against its SHA-256: a permission of its own."""
    return records.open_original(settings, token, receipt_number,
                                 _purpose(purpose_code, purpose_text),
                                 plain_why=purpose_text).data


def _document(work: Work, receipt_number: str) -> Document:
    document = document_by_receipt(work.session, receipt_number, work.settings.municipality_code)
    if document.disposed_at is not None:
        raise NotFound(_("{receipt_number} was disposed of").format(receipt_number=receipt_number))
    return document


def request_disposal(settings: Settings, token: str | None, receipts: list[str], reason: str,
                     unverified_why: str = "") -> str:
    """Ask for documents to be disposed of. A document nobody ever verified is refused
    unless the records manager says why it goes anyway (recorded)."""
    with acting(settings, token, "disposal.request") as work:
        request = disposal.request_disposal(work.session, receipts, reason, work.actor.name,
                                            municipality=settings.municipality_code)
        ids = [item.document_id for item in request.items]
        unverified = never_verified(work.session, ids)
        if unverified and not unverified_why.strip():
            raise RecordsError(_(
                "never verified: {value}. Say why they may be disposed of anyway, or have them "
                "verified first").format(value=', '.join(unverified)))
        if unverified:
            work.audit("disposal.unverified", ids, purpose=unverified_why.strip(),
                       result="ok", detail={"documents": unverified})
        work.audit("disposal.request", [request.id, *ids], purpose=reason.strip(),
                   result="ok", detail={"number": request.number, "documents": len(ids)})
        return request.number
