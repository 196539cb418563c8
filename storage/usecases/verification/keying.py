"""Double-blind keying of a flagged 個人番号 or 基礎年金番号: two people type it without
seeing the reading or each other's entry."""

from __future__ import annotations

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage.models import FieldValue
from storage.usecases.base import Token, acting
from storage.usecases.verification.common import (
    FourEyesRefused,
    VerificationError,
    _check_value,
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


def key(settings: Settings, token: Token, receipt_number: str, field_name: str,
        value: str) -> str:
    """One blind entry of a flagged 個人番号 or 基礎年金番号. Two people type it without
    seeing the reading or each other; equal → confirmed, different → a third person."""
    with acting(settings, token, "record.correct", "field.key") as work:
        document = _document(work, receipt_number)
        field = _field(document, field_name)
        _workable(document)
        work.subject_ids = [document.id, field.id]
        if not _is_blind(field):
            raise VerificationError(_(
                "{field_name} of {receipt_number} is not keyed blind").format(
                    field_name=field_name, receipt_number=receipt_number))
        typed = value.strip()
        keys = [e for e in _events(work.session, document)
                if e.field_id == field.id and e.kind == "key"]
        if any(e.by == work.actor.name for e in keys):
            raise FourEyesRefused(_(
                "you have already typed this number: another person types it now, without seeing "
                "yours"))
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


