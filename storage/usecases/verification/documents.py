"""Steps on a whole document: 疑義 (control 31) and its decision, rescan, finished."""

from __future__ import annotations

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage.usecases.base import Token, acting
from storage.usecases.verification.common import (
    DECISIONS,
    SETTLED,
    FourEyesRefused,
    VerificationError,
    _document,
    _events,
    _history_begins,
    _record,
    _workable,
)


def investigate(settings: Settings, token: Token, receipt_number: str, note: str) -> None:
    """Send the document to 疑義 (under investigation, control 31), with a note."""
    _set_aside(settings, token, receipt_number, "investigate", "investigation", note,
               _("say what is doubtful: a 疑義 needs a note"))


def rescan(settings: Settings, token: Token, receipt_number: str, note: str) -> None:
    """Send the document back to the scanning desk (the page is unreadable, cut, skewed)."""
    _set_aside(settings, token, receipt_number, "rescan", "rescan", note,
               _("say why the page must be scanned again"))


def _set_aside(settings: Settings, token: Token, receipt_number: str, kind: str,
               status: str, note: str, ask: str) -> None:
    """A verifier takes a document out of verification, saying why in a note."""
    if not note.strip():
        raise InvalidInput(ask)
    with acting(settings, token, "record.correct", f"record.{kind}") as work:
        document = _document(work, receipt_number)
        _workable(document)
        document.status = status
        _record(work, document, kind, note=note.strip())
        work.audit(f"record.{kind}", [document.id], result="ok")


def finish(settings: Settings, token: Token, receipt_number: str) -> str:
    """A verifier has looked at a document none of whose fields waits: it is verified."""
    with acting(settings, token, "record.correct", "record.verified") as work:
        document = _document(work, receipt_number)
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


def decide(settings: Settings, token: Token, receipt_number: str, decision: str,
           note: str) -> str:
    """The end of a 疑義: back to verification, or to the scanning desk. Taken by a checker,
    never by the person who raised it."""
    if decision not in DECISIONS:
        raise InvalidInput(_("decide one of {value}").format(value=", ".join(DECISIONS)))
    if not note.strip():
        raise InvalidInput(_("a decision on a 疑義 says why"))
    with acting(settings, token, "record.confirm", "record.decide") as work:
        document = _document(work, receipt_number)
        if document.status != "investigation":
            raise VerificationError(_("{receipt_number} is not under investigation").format(
                receipt_number=receipt_number))
        work.subject_ids = [document.id]
        raised = [e for e in _events(work.session, document) if e.kind == "investigate"][-1]
        if raised.by == work.actor.name:
            raise FourEyesRefused(_("you raised this 疑義: another person decides it"))
        document.status = "in_verification" if decision == "resume" else "rescan"
        _record(work, document, "decide", note=note.strip(), reason=decision,
                answers=raised.id)
        work.audit("record.decide", [document.id], result="ok", detail={"decision": decision})
        return document.status


