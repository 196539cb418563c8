"""Verification: people look at what the machine read, correct it, and a second person
confirms (DOMAIN §6: four-eyes, control 27; history of every value, control 73; 疑義, control 31).

The life of a field:   accepted (read, nothing doubtful)            → stays accepted
                       review   → accept / correct → pending         → confirmed | review
                       review (個人番号, 基礎年金番号) → keying → confirmed | disputed → confirmed
The life of a document: review | ready → in_verification → verified
                        … → investigation (疑義) → in_verification (only by a decision)
                        … → rescan (sent back to the scanning desk)

Every step is a VerificationEvent row; nothing is overwritten. A field's current value
(FieldValue.value_sealed, which search and exports read) is the last confirmed one, and the
blind indexes follow it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import Conflict, InvalidInput, NotAllowed, NotFound
from schemas.forms import get_form
from schemas.normalise import my_number_check_digit
from schemas.reasons import reason_code
from schemas.settings import Settings
from storage.accounts import CHECKER, VERIFIER, Person
from storage.models import Document, FieldValue, StoredObject, VerificationEvent
from storage.queries import QueueLine, waiting_queue
from storage.retention import document_saved
from storage.usecases.base import Work, acting

WAITING = ("review", "ready", "in_verification")
SETTLED = ("accepted", "confirmed")
"""A document whose every field is in one of these is verified."""
DOUBLE_BLIND_TYPES = ("my_number", "bpn")
"""Field types keyed twice, blind, when flagged (the identifiers everything else hangs on)."""
CORRECTION_REASONS = ("misread", "wrong_on_paper", "confirmed_by_phone", "other")
"""Why a verifier changed a value: a code, so the audit log carries no free text."""
DECISIONS = ("resume", "rescan")
"""How a 疑義 ends: back to verification, or back to the scanning desk."""


class VerificationError(Conflict):
    """The step cannot be taken in the field's or document's present state."""

    code = "verification"


class FourEyesRefused(NotAllowed):
    """A second person is needed: the same person (or one account holding both the
    verifier's and the checker's duty) may not confirm."""

    code = "four_eyes"


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


# --- Helpers --------------------------------------------------------------------------------


def _document(session: Session, receipt_number: str) -> Document:
    document = session.scalars(
        select(Document).where(Document.receipt_number == receipt_number)
    ).one_or_none()
    if document is None or document.disposed_at is not None:
        raise NotFound(f"no document {receipt_number}")
    return document


def _field(document: Document, name: str) -> FieldValue:
    for field_value in document.fields:
        if field_value.name == name:
            return field_value
    raise NotFound(f"{document.receipt_number} has no field {name}")


def _events(session: Session, document: Document) -> list[VerificationEvent]:
    return list(session.scalars(
        select(VerificationEvent)
        .where(VerificationEvent.document_id == document.id)
        .order_by(VerificationEvent.at, VerificationEvent.id)
    ))


def _record(work: Work, document: Document, kind: str, field: FieldValue | None = None,
            value: str | None = None, note: str = "", reason: str | None = None,
            answers: str | None = None) -> VerificationEvent:
    purpose = f"event:{kind}"
    event = VerificationEvent(
        document_id=document.id, field_id=field.id if field else None, kind=kind,
        value_sealed=work.vault.seal_value(document, purpose, value) if value is not None
        else None,
        note_sealed=work.vault.seal_value(document, f"{purpose}:note", note) if note else None,
        reason=reason, answers=answers, by=work.actor.name, duty=work.actor.role,
        at=dt.datetime.now(dt.UTC),
    )
    work.session.add(event)
    work.session.flush()
    return event


def _open(work: Work, document: Document, event: VerificationEvent) -> tuple[str | None, str]:
    purpose = f"event:{event.kind}"
    value = (work.vault.open_value(document, purpose, event.value_sealed)
             if event.value_sealed is not None else None)
    note = (work.vault.open_value(document, f"{purpose}:note", event.note_sealed)
            if event.note_sealed is not None else "")
    return value, note


def _current(work: Work, document: Document, field: FieldValue) -> str:
    return work.vault.open_value(document, f"field:{field.name}:value", field.value_sealed)


def _history_begins(work: Work, document: Document, field: FieldValue) -> None:
    """The machine reading is the first step of every field's history: written when a
    person first touches the field, before anything can change it."""
    exists = work.session.scalars(select(VerificationEvent.id).where(
        VerificationEvent.field_id == field.id, VerificationEvent.kind == "read").limit(1)
    ).first()
    if exists is None:
        work.session.add(VerificationEvent(
            document_id=document.id, field_id=field.id, kind="read",
            value_sealed=work.vault.seal_value(document, "event:read",
                                               _current(work, document, field)),
            by="machine", duty=field.engine, at=dt.datetime.now(dt.UTC)))
        work.session.flush()


def _is_blind(field: FieldValue) -> bool:
    return field.field_type in DOUBLE_BLIND_TYPES and field.status in (
        "review", "keying", "disputed")


def _workable(document: Document) -> None:
    if document.status == "investigation":
        raise VerificationError(f"{document.receipt_number} is under investigation (疑義): "
                                "it returns to verification only by a decision")
    if document.status not in WAITING:
        raise VerificationError(f"{document.receipt_number} is not waiting for verification "
                                f"(it is {document.status})")
    document.status = "in_verification"


def _both_duties(work: Work) -> bool:
    person = work.session.get_one(Person, work.person_id)
    return VERIFIER in person.roles and CHECKER in person.roles


def _settle(work: Work, document: Document, field: FieldValue, value: str,
            answers: str | None) -> None:
    """The field's value is now `value`, confirmed; the blind indexes follow."""
    field.value_sealed = work.vault.seal_value(document, f"field:{field.name}:value", value)
    field.status = "confirmed"
    _record(work, document, "confirm", field, value, answers=answers)
    document_saved(work.session, work.vault, document,
                   {f.name: _current(work, document, f) for f in document.fields},
                   work.indexer, work.retention)
    if all(f.status in SETTLED for f in document.fields):
        document.status = "verified"
        _record(work, document, "verified")
        work.audit("record.verified", [document.id], result="ok")


def _check_value(field: FieldValue, value: str) -> str:
    value = value.strip()
    if not value and field.field_type in DOUBLE_BLIND_TYPES:
        raise InvalidInput("type the number as written on the form")
    if field.field_type == "my_number" and not _my_number_ok(value):
        raise InvalidInput("the 個人番号 is 12 digits whose last digit checks the others")
    if field.field_type == "bpn" and not (value.isdigit() and len(value) == 10):
        raise InvalidInput("the 基礎年金番号 is 10 digits")
    return value


def _my_number_ok(value: str) -> bool:
    return (len(value) == 12 and value.isascii() and value.isdigit()
            and my_number_check_digit(value[:11]) == int(value[11]))


# --- Reading --------------------------------------------------------------------------------


def queue(settings: Settings, token: str | None, form_id: str = "",
          reason: str = "") -> list[QueueLine]:
    """Documents waiting for verification, oldest first, those with more fields to review
    first within a day; masked like `kura queue`."""
    with acting(settings, token, "queue.read") as work:
        lines = [line for line in waiting_queue(work.session, work.vault, WAITING)
                 if (not form_id or line.form_id == form_id)
                 and (not reason or reason in line.why)]
        lines.sort(key=lambda line: (line.received_date, -line.fields_review,
                                     line.receipt_number))
        work.audit("queue.read", result="ok", detail={"lines": len(lines)})
        return lines


def open_document(settings: Settings, token: str | None, receipt_number: str) -> DocumentView:
    with acting(settings, token, "record.read") as work:
        document = _document(work.session, receipt_number)
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


def page_image(settings: Settings, token: str | None, receipt_number: str,
               number: int) -> bytes:
    """The page image (JPEG), opened for a person with the duty to read records."""
    with acting(settings, token, "record.read") as work:
        document = _document(work.session, receipt_number)
        page = next((p for p in document.pages if p.number == number), None)
        if page is None or page.image_object_id is None:
            raise NotFound(f"{receipt_number} has no page image {number}")
        data = work.vault.get_object(work.session.get_one(StoredObject, page.image_object_id))
        work.audit("page.view", [document.id, page.id], result="ok")
        return data


def group(settings: Settings, token: str | None, field_type: str) -> list[tuple[str, FieldView]]:
    """Every field of one type waiting for review, across documents: (受付番号, field)."""
    with acting(settings, token, "record.read") as work:
        documents = work.session.scalars(
            select(Document).join(FieldValue)
            .where(Document.status.in_(WAITING), FieldValue.field_type == field_type,
                   FieldValue.status == "review")
            .order_by(Document.received_date, Document.receipt_number).distinct()
        ).all()
        found = [(d.receipt_number, v) for d in documents for v in _view(work, d).fields
                 if v.field_type == field_type and v.status == "review" and not v.blind]
        work.audit("record.group", [d.id for d in documents], result="ok",
                   detail={"field_type": field_type, "fields": len(found)})
        return found


# --- Verifier's steps -----------------------------------------------------------------------


def accept(settings: Settings, token: str | None, receipt_number: str, field_name: str) -> str:
    """Take the reading of a field flagged for review as it is: waits for a checker."""
    with acting(settings, token, "record.correct", "field.accept") as work:
        document = _document(work.session, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        if field.status != "review":
            raise VerificationError(f"{field_name} of {receipt_number} is not waiting for "
                                    f"review (it is {field.status})")
        if _is_blind(field):
            raise VerificationError(f"{field_name} is keyed blind by two people: type it")
        _history_begins(work, document, field)
        _record(work, document, "accept", field, _current(work, document, field))
        field.status = "pending"
        work.audit("field.accept", [document.id, field.id], result="pending",
                   detail={"field": field_name})
        return field.status


def correct(settings: Settings, token: str | None, receipt_number: str, field_name: str,
            value: str, reason: str = "misread", note: str = "") -> str:
    """Propose a new value for a field (or an empty one: a deletion); waits for a checker."""
    if reason not in CORRECTION_REASONS:
        raise InvalidInput(f"say why with one of {', '.join(CORRECTION_REASONS)}")
    with acting(settings, token, "record.correct", "field.correct") as work:
        document = _document(work.session, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        if field.status == "pending":
            raise VerificationError(f"{field_name} of {receipt_number} already waits for a "
                                    "checker")
        if _is_blind(field):
            raise VerificationError(f"{field_name} is keyed blind by two people: use keying")
        value = value.strip()
        if value and field.field_type in DOUBLE_BLIND_TYPES:
            value = _check_value(field, value)
        _history_begins(work, document, field)
        _record(work, document, "correct", field, value, note, reason)
        field.status = "pending"
        work.audit("field.correct", [document.id, field.id], result="pending",
                   detail={"field": field_name, "reason": reason, "deleted": not value})
        return field.status


def key(settings: Settings, token: str | None, receipt_number: str, field_name: str,
        value: str) -> str:
    """One blind entry of a flagged 個人番号 or 基礎年金番号. Two people type it without
    seeing the reading or each other; equal → confirmed, different → a third person."""
    with acting(settings, token, "record.correct", "field.key") as work:
        document = _document(work.session, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        work.subject_ids = [document.id, field.id]
        if not _is_blind(field):
            raise VerificationError(f"{field_name} of {receipt_number} is not keyed blind")
        typed = value.strip()
        keys = [e for e in _events(work.session, document)
                if e.field_id == field.id and e.kind == "key"]
        if any(e.by == work.actor.name for e in keys):
            raise FourEyesRefused("you have already typed this number: another person types "
                                  "it now, without seeing yours")
        _history_begins(work, document, field)
        event = _record(work, document, "key", field, typed)
        earlier = [_open(work, document, e)[0] for e in keys]
        result = "keying"
        if not earlier:
            field.status = "keying"
        elif typed in earlier and _valid(field, typed):
            _settle(work, document, field, typed, event.id)
            result = "confirmed"
        else:
            field.status = result = "disputed"
        work.audit("field.key", [document.id, field.id], result=result,
                   detail={"field": field_name, "entry": len(keys) + 1})
        return result


def _valid(field: FieldValue, value: str) -> bool:
    try:
        _check_value(field, value)
    except InvalidInput:
        return False
    return True


def investigate(settings: Settings, token: str | None, receipt_number: str, note: str) -> None:
    """Send the document to 疑義 (under investigation, control 31), with a note."""
    _set_aside(settings, token, receipt_number, "investigate", "investigation", note,
               "say what is doubtful: a 疑義 needs a note")


def rescan(settings: Settings, token: str | None, receipt_number: str, note: str) -> None:
    """Send the document back to the scanning desk (the page is unreadable, cut, skewed)."""
    _set_aside(settings, token, receipt_number, "rescan", "rescan", note,
               "say why the page must be scanned again")


def _set_aside(settings: Settings, token: str | None, receipt_number: str, kind: str,
               status: str, note: str, ask: str) -> None:
    """A verifier takes a document out of verification, saying why in a note."""
    if not note.strip():
        raise InvalidInput(ask)
    with acting(settings, token, "record.correct", f"record.{kind}") as work:
        document = _document(work.session, receipt_number)
        _workable(document)
        document.status = status
        _record(work, document, kind, note=note.strip())
        work.audit(f"record.{kind}", [document.id], result="ok")


def finish(settings: Settings, token: str | None, receipt_number: str) -> str:
    """A verifier has looked at a document none of whose fields waits: it is verified."""
    with acting(settings, token, "record.correct", "record.verified") as work:
        document = _document(work.session, receipt_number)
        _workable(document)
        waiting = [f.name for f in document.fields if f.status not in SETTLED]
        if waiting:
            document.status = "in_verification"
            return document.status
        for field in document.fields:
            _history_begins(work, document, field)
        document.status = "verified"
        _record(work, document, "verified")
        work.audit("record.verified", [document.id], result="ok")
        return document.status


# --- Checker's steps ------------------------------------------------------------------------


def _pending(work: Work, document: Document, field: FieldValue) -> VerificationEvent:
    if field.status != "pending":
        raise VerificationError(f"{field.name} of {document.receipt_number} waits for no "
                                "confirmation")
    return [e for e in _events(work.session, document)
            if e.field_id == field.id and e.kind in ("correct", "accept")][-1]


def _second_person(work: Work, change: VerificationEvent) -> None:
    if change.by == work.actor.name:
        raise FourEyesRefused("you made this change: another person confirms it")
    if _both_duties(work):
        raise FourEyesRefused("this account holds both the verifier's and the checker's "
                              "duty: confirmations need a checker who cannot correct")


def confirm(settings: Settings, token: str | None, receipt_number: str,
            field_name: str) -> str:
    """The second person agrees with a correction, deletion or acceptance."""
    with acting(settings, token, "record.confirm", "field.confirm") as work:
        document = _document(work.session, receipt_number)
        field = _field(document, field_name)
        work.subject_ids = [document.id, field.id]  # a refusal below is recorded with these
        change = _pending(work, document, field)
        _second_person(work, change)
        value, _ = _open(work, document, change)
        _settle(work, document, field, value or "", change.id)
        work.audit("field.confirm", [document.id, field.id], result="ok",
                   detail={"field": field_name, "change": change.kind})
        return document.status


def return_change(settings: Settings, token: str | None, receipt_number: str,
                  field_name: str, note: str) -> None:
    """The second person disagrees: the field goes back to the verifiers, with a note."""
    if not note.strip():
        raise InvalidInput("say why the change goes back")
    with acting(settings, token, "record.confirm", "field.return") as work:
        document = _document(work.session, receipt_number)
        field = _field(document, field_name)
        work.subject_ids = [document.id, field.id]
        change = _pending(work, document, field)
        _second_person(work, change)
        field.status = "review"
        _record(work, document, "return", field, note=note.strip(), answers=change.id)
        work.audit("field.return", [document.id, field.id], result="ok",
                   detail={"field": field_name})


def decide(settings: Settings, token: str | None, receipt_number: str, decision: str,
           note: str) -> str:
    """The end of a 疑義: back to verification, or to the scanning desk. Taken by a checker,
    never by the person who raised it."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decide one of {', '.join(DECISIONS)}")
    if not note.strip():
        raise InvalidInput("a decision on a 疑義 says why")
    with acting(settings, token, "record.confirm", "record.decide") as work:
        document = _document(work.session, receipt_number)
        if document.status != "investigation":
            raise VerificationError(f"{receipt_number} is not under investigation")
        work.subject_ids = [document.id]
        raised = [e for e in _events(work.session, document) if e.kind == "investigate"][-1]
        if raised.by == work.actor.name:
            raise FourEyesRefused("you raised this 疑義: another person decides it")
        document.status = "in_verification" if decision == "resume" else "rescan"
        _record(work, document, "decide", note=note.strip(), reason=decision,
                answers=raised.id)
        work.audit("record.decide", [document.id], result="ok", detail={"decision": decision})
        return document.status


# --- For disposal ---------------------------------------------------------------------------


def never_verified(session: Session, document_ids: Iterable[str]) -> list[str]:
    """受付番号 of the documents among `document_ids` that nobody ever verified."""
    ids = list(document_ids)
    verified = set(session.scalars(select(VerificationEvent.document_id).where(
        VerificationEvent.document_id.in_(ids), VerificationEvent.kind == "verified")))
    return [d.receipt_number for d in session.scalars(
        select(Document).where(Document.id.in_(ids)).order_by(Document.receipt_number))
        if d.id not in verified]

