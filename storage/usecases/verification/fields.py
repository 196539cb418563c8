"""A field flagged for review: the verifier accepts or corrects it, a second person confirms
or returns the change (four-eyes, control 27)."""

from __future__ import annotations

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage.models import Document, FieldValue, VerificationEvent
from storage.usecases.base import Token, Work, acting
from storage.usecases.verification.common import (
    CORRECTION_REASONS,
    DOUBLE_BLIND_TYPES,
    FourEyesRefused,
    VerificationError,
    _both_duties,
    _check_value,
    _current,
    _document,
    _events,
    _field,
    _history_begins,
    _is_blind,
    _open,
    _record,
    _settle,
    _workable,
)

# --- Verifier's steps -----------------------------------------------------------------------


def accept(settings: Settings, token: Token, receipt_number: str, field_name: str) -> str:
    """Take the reading of a field flagged for review as it is: waits for a checker."""
    with acting(settings, token, "record.correct", "field.accept") as work:
        document = _document(work, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        if field.status != "review":
            raise VerificationError(
                _("{field_name} of {receipt_number} is not waiting for review (it is {status})")
                .format(field_name=field_name, receipt_number=receipt_number,
                        status=field.status))
        if _is_blind(field):
            raise VerificationError(_(
                "{field_name} is keyed blind by two people: type it").format(field_name=field_name))
        _history_begins(work, document, field)
        _record(work, document, "accept", field, _current(work, document, field))
        field.status = "pending"
        work.audit("field.accept", [document.id, field.id], result="pending",
                   detail={"field": field_name})
        return field.status


def correct(settings: Settings, token: Token, receipt_number: str, field_name: str,
            value: str, reason: str = "misread", note: str = "") -> str:
    """Propose a new value for a field (or an empty one: a deletion); waits for a checker."""
    if reason not in CORRECTION_REASONS:
        raise InvalidInput(_("say why with one of {value}").format(
            value=", ".join(CORRECTION_REASONS)))
    with acting(settings, token, "record.correct", "field.correct") as work:
        document = _document(work, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        if field.status == "pending":
            raise VerificationError(_(
                "{field_name} of {receipt_number} already waits for a checker").format(
                    field_name=field_name, receipt_number=receipt_number))
        if _is_blind(field):
            raise VerificationError(_(
                "{field_name} is keyed blind by two people: use keying").format(
                    field_name=field_name))
        value = value.strip()
        if value and field.field_type in DOUBLE_BLIND_TYPES:
            value = _check_value(field, value)
        _history_begins(work, document, field)
        _record(work, document, "correct", field, value, note, reason)
        field.status = "pending"
        work.audit("field.correct", [document.id, field.id], result="pending",
                   detail={"field": field_name, "reason": reason, "deleted": not value})
        return field.status


# --- Checker's steps ------------------------------------------------------------------------


def _pending(work: Work, document: Document, field: FieldValue) -> VerificationEvent:
    if field.status != "pending":
        raise VerificationError(_(
            "{name} of {receipt_number} waits for no confirmation").format(
                name=field.name, receipt_number=document.receipt_number))
    return [e for e in _events(work.session, document)
            if e.field_id == field.id and e.kind in ("correct", "accept")][-1]


def _second_person(work: Work, change: VerificationEvent) -> None:
    if change.by == work.actor.name:
        raise FourEyesRefused(_("you made this change: another person confirms it"))
    if _both_duties(work):
        raise FourEyesRefused(_(
            "this account holds both the verifier's and the checker's duty: confirmations need a "
            "checker who cannot correct"))


def confirm(settings: Settings, token: Token, receipt_number: str,
            field_name: str) -> str:
    """The second person agrees with a correction, deletion or acceptance."""
    with acting(settings, token, "record.confirm", "field.confirm") as work:
        document = _document(work, receipt_number)
        field = _field(document, field_name)
        work.subject_ids = [document.id, field.id]  # a refusal below is recorded with these
        change = _pending(work, document, field)
        _second_person(work, change)
        value, _ = _open(work, document, change)
        _settle(work, document, field, value or "", change.id)
        work.audit("field.confirm", [document.id, field.id], result="ok",
                   detail={"field": field_name, "change": change.kind})
        return document.status


def return_change(settings: Settings, token: Token, receipt_number: str,
                  field_name: str, note: str) -> None:
    """The second person disagrees: the field goes back to the verifiers, with a note."""
    if not note.strip():
        raise InvalidInput(_("say why the change goes back"))
    with acting(settings, token, "record.confirm", "field.return") as work:
        document = _document(work, receipt_number)
        field = _field(document, field_name)
        work.subject_ids = [document.id, field.id]
        change = _pending(work, document, field)
        _second_person(work, change)
        field.status = "review"
        _record(work, document, "return", field, note=note.strip(), answers=change.id)
        work.audit("field.return", [document.id, field.id], result="ok",
                   detail={"field": field_name})


