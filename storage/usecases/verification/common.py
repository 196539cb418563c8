"""What every step of verification shares: the states, the refusals, reading a document's
events and writing one, and settling a field's value."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import Conflict, InvalidInput, NotAllowed, NotFound
from schemas.i18n import _
from schemas.normalise import my_number_check_digit
from storage.accounts import CHECKER, VERIFIER, Person
from storage.models import Document, FieldValue, VerificationEvent
from storage.receipts import OtherMunicipality as OtherMunicipality
from storage.receipts import document_by_receipt, of_own
from storage.retention import document_saved
from storage.usecases.base import Work

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


def _document(work: Work, receipt_number: str) -> Document:
    document = document_by_receipt(work.session, receipt_number, work.municipality)
    if document is None or document.disposed_at is not None:
        raise NotFound(_("no document {receipt_number}").format(receipt_number=receipt_number))
    work.subject_ids = [document.id]  # a refusal from here on is recorded against it
    return of_own(document, work.municipality, receipt_number)


def _field(document: Document, name: str) -> FieldValue:
    for field_value in document.fields:
        if field_value.name == name:
            return field_value
    raise NotFound(_("{receipt_number} has no field {name}").format(
        receipt_number=document.receipt_number, name=name))


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
        raise VerificationError(_(
            "{receipt_number} is under investigation (疑義): it returns to verification only by a "
            "decision").format(receipt_number=document.receipt_number))
    if document.status not in WAITING:
        raise VerificationError(_(
            "{receipt_number} is not waiting for verification (it is {status})").format(
                receipt_number=document.receipt_number, status=document.status))
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
        raise InvalidInput(_("type the number as written on the form"))
    if field.field_type == "my_number" and not _my_number_ok(value):
        raise InvalidInput(_("the 個人番号 is 12 digits whose last digit checks the others"))
    if field.field_type == "bpn" and not (value.isdigit() and len(value) == 10):
        raise InvalidInput(_("the 基礎年金番号 is 10 digits"))
    return value


def _my_number_ok(value: str) -> bool:
    return (len(value) == 12 and value.isascii() and value.isdigit()
            and my_number_check_digit(value[:11]) == int(value[11]))


