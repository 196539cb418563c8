"""What the station shows: the queue, one document with every field's value, reasons and
history, a page image, all fields of one type across documents (group verification), and
which documents nobody ever verified (for disposal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import NotFound
from schemas.forms import get_form
from schemas.i18n import _
from schemas.reasons import reason_code
from schemas.settings import Settings
from storage.accounts import CHECKER
from storage.models import Document, FieldValue, StoredObject, VerificationEvent
from storage.queries import QueueLine, waiting_queue
from storage.usecases.base import Token, Work, acting
from storage.usecases.verification.common import (
    SETTLED,
    WAITING,
    _current,
    _document,
    _events,
    _is_blind,
    _open,
)

# --- What the station shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str
    value: str | None
    note: str | None
    reason: str | None
    by: str
    at: dt.datetime


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    field_type: str
    status: str
    value: str | None
    """The current value; None while the field is keyed blind (nobody may see it then)."""
    proposed: str | None
    """The value waiting for a checker (after a correction or acceptance)."""
    proposed_by: str | None
    reasons: list[str]
    """Codes of schemas/reasons.py (the rooms say them in words)."""
    doubtful: list[str]
    """Characters the recogniser nearly read as another (from `doubt:ツ/ッ` reasons)."""
    box: list[int] | None
    page_number: int
    page_size: tuple[int, int] | None
    """The form's page size in pixels, which `box` is given in."""
    blind: bool
    history: list[Step]

    @property
    def for_review(self) -> bool:
        return self.status not in SETTLED


@dataclass(frozen=True)
class DocumentView:
    receipt_number: str
    received_date: dt.date
    form_id: str | None
    form_title: str
    size_px: tuple[int, int] | None
    status: str
    pages: list[int]
    fields: list[FieldView]
    """Fields for review first, then the rest, each group in the order of the form."""
    verified_by: list[str]
    confirmed_by: list[str]
    steps: list[Step]
    """Steps of the whole document: 疑義 and its decision, rescan, verified."""


# --- Reading --------------------------------------------------------------------------------


def queue(settings: Settings, token: Token, form_id: str = "", reason: str = "",
          limit: int | None = None) -> list[QueueLine]:
    """Documents of the person's municipality waiting for verification, oldest first, those
    with more fields to review first within a day; masked like `kura queue`. With a limit,
    the first lines only."""
    with acting(settings, token, "queue.read") as work:
        lines = waiting_queue(work.session, work.vault, WAITING, form_id, reason, limit,
                              work.municipality)
        work.audit("queue.read", result="ok", detail={"lines": len(lines)})
        return lines


def open_document(settings: Settings, token: Token, receipt_number: str) -> DocumentView:
    with acting(settings, token, "record.read") as work:
        document = _document(work, receipt_number)
        view = _view(work, document)
        work.audit("record.open", [document.id], result="ok",
                   detail={"fields": len(view.fields)})
        return view


def _view(work: Work, document: Document) -> DocumentView:
    form = get_form(document.form_id) if document.form_id else None
    events = _events(work.session, document)
    by_field: dict[str, list[VerificationEvent]] = {}
    for event in events:
        by_field.setdefault(event.field_id or "", []).append(event)
    size = (form.size_px[0], form.size_px[1]) if form else None
    fields = []
    for f in document.fields:
        blind = _is_blind(f)
        history, proposed, proposed_by = [], None, None
        for event in by_field.get(f.id, []):
            value, note = _open(work, document, event)
            hidden = blind and event.kind in ("read", "key")
            history.append(Step(event.kind, None if hidden else value, note or None,
                                event.reason, event.by, event.at))
            if event.kind in ("correct", "accept"):
                proposed, proposed_by = value, event.by
        if f.status != "pending":
            proposed = proposed_by = None
        reasons = work.vault.open_reasons(document, f)
        fields.append(FieldView(
            name=f.name, label=form.field(f.name).label if form else f.name,
            field_type=f.field_type, status=f.status,
            value=None if blind else _current(work, document, f),
            proposed=proposed, proposed_by=proposed_by, reasons=reasons,
            doubtful=[r.split(":", 1)[1].split("/")[0] for r in reasons
                      if reason_code(r) == "doubt" and ":" in r],
            box=f.box, page_number=f.page_number or 1, page_size=size, blind=blind,
            history=history))
    fields.sort(key=lambda v: not v.for_review)  # stable: the form's order within each group
    steps = []
    for event in by_field.get("", []):
        _, note = _open(work, document, event)
        steps.append(Step(event.kind, None, note or None, event.reason, event.by, event.at))
    return DocumentView(
        receipt_number=document.receipt_number, received_date=document.received_date,
        form_id=document.form_id, form_title=form.title if form else "",
        size_px=size,
        status=document.status, pages=[p.number for p in document.pages], fields=fields,
        verified_by=sorted({e.by for e in events if e.kind in ("correct", "accept", "key")}),
        confirmed_by=sorted({e.by for e in events if e.kind == "confirm"
                             and e.duty == CHECKER}),
        steps=steps)


def page_image(settings: Settings, token: Token, receipt_number: str,
               number: int) -> bytes:
    """The page image (JPEG), opened for a person with the duty to read records."""
    with acting(settings, token, "record.read") as work:
        document = _document(work, receipt_number)
        page = next((p for p in document.pages if p.number == number), None)
        if page is None or page.image_object_id is None:
            raise NotFound(_("{receipt_number} has no page image {number}").format(
                receipt_number=receipt_number, number=number))
        data = work.vault.get_object(work.session.get_one(StoredObject, page.image_object_id))
        work.audit("page.view", [document.id, page.id], result="ok")
        return data


def group(settings: Settings, token: Token, field_type: str) -> list[tuple[str, FieldView]]:
    """Every field of one type waiting for review, across the documents of the person's
    municipality: (受付番号, field)."""
    with acting(settings, token, "record.read") as work:
        documents = work.session.scalars(
            select(Document).join(FieldValue)
            .where(Document.status.in_(WAITING), FieldValue.field_type == field_type,
                   FieldValue.status == "review", Document.municipality == work.municipality)
            .order_by(Document.received_date, Document.receipt_number).distinct()
        ).all()
        found = [(d.receipt_number, v) for d in documents for v in _view(work, d).fields
                 if v.field_type == field_type and v.status == "review" and not v.blind]
        work.audit("record.group", [d.id for d in documents], result="ok",
                   detail={"field_type": field_type, "fields": len(found)})
        return found


# --- For disposal ---------------------------------------------------------------------------


def never_verified(session: Session, document_ids: Iterable[str]) -> list[str]:
    """受付番号 of the documents among `document_ids` that nobody ever verified."""
    ids = list(document_ids)
    verified = set(session.scalars(select(VerificationEvent.document_id).where(
        VerificationEvent.document_id.in_(ids), VerificationEvent.kind == "verified")))
    return [d.receipt_number for d in session.scalars(
        select(Document).where(Document.id.in_(ids)).order_by(Document.receipt_number))
        if d.id not in verified]


