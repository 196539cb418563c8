"""Read-side views for people: where each file and page of a batch went, and the queue of
documents waiting for verification (masked: no 個人番号, no full name)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from schemas.errors import NotFound
from schemas.i18n import _
from schemas.reasons import describe, reason_code
from storage.models import Batch, Document, FieldValue, SourceFile
from storage.receipts import document_by_receipt
from storage.vault import Vault

WAITING = ("review", "ready")
QUEUE_CHUNK = 200
"""Documents loaded at a time while the queue is filled."""


@dataclass(frozen=True)
class FileLine:
    position: int
    filename: str
    status: str
    pages: int
    receipts: list[str]
    reason: str | None
    flags: list[str]


@dataclass(frozen=True)
class BatchReport:
    batch_id: str
    files: list[FileLine]
    documents: int
    fields_accepted: int
    fields_review: int
    pages_blank: int
    pages_unknown: int
    pages_failed: int

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)


def batch_report(session: Session, batch_id: str) -> BatchReport:
    batch = session.get_one(Batch, batch_id)
    lines, accepted, review, documents = [], 0, 0, 0
    blank = unknown = failed = 0
    for source in batch.files:
        # Every 受付 entry opened for the file, one that holds no page (all blank) too.
        receipts_of = session.scalars(
            select(Document).where(Document.source_file_id == source.id)
        ).all()
        receipts = sorted(d.receipt_number for d in receipts_of)
        unfiled = [describe(r) for d in receipts_of for r in d.reasons or []
                   if r == "no_document_pages"]
        set_aside = [_("page {number} set aside in quarantine ({reason})").format(
                         number=page.number, reason="; ".join(page.reasons or []))
                     for page in source.pages if page.status == "failed"]
        lines.append(
            FileLine(
                source.position,
                source.filename,
                source.status,
                source.page_count,
                receipts,
                source.reject_reason or "; ".join([*unfiled[:1], *set_aside]) or None,
                list(source.flags or []),
            )
        )
        documents += len(receipts)
        for page in source.pages:
            blank += page.kind == "blank"
            unknown += page.kind == "unknown" and page.status != "failed"
            failed += page.status == "failed"
    statuses = session.scalars(
        select(FieldValue.status)
        .join(Document)
        .join(SourceFile, Document.source_file_id == SourceFile.id)
        .where(SourceFile.batch_id == batch_id)
    ).all()
    accepted = sum(s == "accepted" for s in statuses)
    review = sum(s == "review" for s in statuses)
    return BatchReport(batch_id, lines, documents, accepted, review, blank, unknown, failed)


@dataclass(frozen=True)
class QueueLine:
    receipt_number: str
    received_date: dt.date
    form_id: str | None
    status: str
    pages: int
    fields_review: int
    fields_total: int
    name_masked: str
    why: dict[str, int]
    """Reason codes of the fields and pages that wait for a person, without their details
    (a detail may be a character of the name), most frequent first."""


def mask_name(name: str) -> str:
    """Only the first character shows, so a clerk can tell documents apart at a glance."""
    visible = name.replace(" ", "").replace("　", "")
    return visible[:1] + "＊" * min(max(len(visible) - 1, 0), 3) if visible else ""


def waiting_queue(
    session: Session, vault: Vault, statuses: tuple[str, ...] = WAITING, form_id: str = "",
    reason: str = "", limit: int | None = None, municipality: str | None = None,
) -> list[QueueLine]:
    """The queue, oldest first and those with more fields to review first within a day; with
    a limit, its first lines only; with a municipality, its documents only. The order comes
    from the database, and only the documents shown are loaded and opened (for the masked
    name): a station shows its first screen of a queue of ten thousand without reading them
    all."""
    for_review = (select(FieldValue.document_id, func.count().label("fields"))
                  .where(FieldValue.status == "review").group_by(FieldValue.document_id)
                  .subquery())
    query = (select(Document.id).outerjoin(for_review, for_review.c.document_id == Document.id)
             .where(Document.status.in_(statuses))
             .order_by(Document.received_date, func.coalesce(for_review.c.fields, 0).desc(),
                       Document.receipt_number))
    if form_id:
        query = query.where(Document.form_id == form_id)
    if municipality is not None:
        query = query.where(Document.municipality == municipality)
    ordered = session.scalars(query).all()
    lines: list[QueueLine] = []
    for start in range(0, len(ordered), QUEUE_CHUNK):
        chunk = ordered[start:start + QUEUE_CHUNK]
        loaded = {document.id: document for document in session.scalars(
            select(Document).where(Document.id.in_(chunk))
            .options(selectinload(Document.fields), selectinload(Document.pages)))}
        for document_id in chunk:
            document = loaded[document_id]
            if reason and reason not in _why(document):
                continue
            lines.append(_line(document, vault))
            if limit is not None and len(lines) >= limit:
                return lines
    return lines


def _line(document: Document, vault: Vault) -> QueueLine:
    name_field = next((f for f in document.fields if f.name == "name"), None)
    name = (vault.open_value(document, "field:name:value", name_field.value_sealed)
            if name_field else "")
    return QueueLine(
        document.receipt_number,
        document.received_date,
        document.form_id,
        document.status,
        len(document.pages),
        sum(f.status == "review" for f in document.fields),
        len(document.fields),
        mask_name(name),
        _why(document),
    )


def _why(document: Document) -> dict[str, int]:
    reasons = [r for f in document.fields if f.status == "review" for r in f.reasons]
    codes = Counter(reason_code(r) for r in [*reasons, *(document.reasons or [])])
    return dict(codes.most_common())


def document_fields(session: Session, vault: Vault, receipt_number: str,
                    own: str = "000000") -> dict[str, str]:
    """Clear values of one document's fields, for roles that may see them."""
    document = document_by_receipt(session, receipt_number, own)
    if document is None:
        raise NotFound(receipt_number)
    return {
        f.name: vault.open_value(document, f"field:{f.name}:value", f.value_sealed)
        for f in document.fields
    }


def document_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Document)) or 0


def receipts_in_review(session: Session, form_id: str) -> list[str]:
    """受付番号 of the documents of one form that wait for verification."""
    return list(session.scalars(select(Document.receipt_number).where(
        Document.form_id == form_id, Document.status == "review")))
