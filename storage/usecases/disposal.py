"""Disposal by two people (records manager, then a different person who approves), with a
certificate kept on the request. Drawing the certificate as PDF is the front end's part
(pipeline.render.certificate_pdf)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from schemas.errors import Damaged
from schemas.i18n import _
from schemas.normalise import canonical_json
from schemas.settings import Settings
from storage import disposal
from storage.audit_words import erase_words_about
from storage.custody import CustodyError
from storage.db import session_scope
from storage.usecases.base import Token, acting


@dataclass(frozen=True)
class Requested:
    number: str
    documents: int


def request_disposal(settings: Settings, token: Token, receipt_numbers: list[str],
                     reason: str) -> Requested:
    """Ask for documents to be disposed of; a different person must approve."""
    with acting(settings, token, "disposal.request") as work:
        request = disposal.request_disposal(work.session, receipt_numbers, reason,
                                            work.actor.name,
                                            municipality=settings.municipality_code)
        ids = [request.id, *(item.document_id for item in request.items)]
        work.audit("disposal.request", ids, purpose=reason.strip(), result="ok",
                   detail={"number": request.number, "documents": len(ids) - 1})
        return Requested(request.number, len(ids) - 1)


@dataclass(frozen=True)
class Certificate:
    content: dict[str, Any]
    text: str
    """The canonical JSON: the bytes its SHA-256 is over, written as the .json file."""
    sha256: str

    @property
    def number(self) -> str:
        return str(self.content["number"])


@dataclass(frozen=True)
class Disposed:
    certificate: Certificate
    remnants: str
    """What the database still keeps of old row versions, and who removes them."""


def approve_disposal(settings: Settings, token: Token, number: str) -> Disposed:
    """Approve (as a second person) and carry out a disposal: destroy the data keys, remove
    the object versions the store lets go, keep the certificate."""
    with acting(settings, token, "disposal.approve") as work:
        content = disposal.approve_disposal(work.session, work.vault, number, work.actor.name)
        text = canonical_json(content)
        digest = hashlib.sha256(text.encode()).hexdigest()
        ids = [d["document_id"] for d in content["documents"]] + \
              [o["object_id"] for o in content["objects"]]
        erased = erase_words_about(work.session, ids)
        work.audit("disposal.approve", ids, result="ok",
                   detail={"number": number, "certificate_sha256": digest,
                           "documents": len(content["documents"]),
                           "objects": len(content["objects"]), "words_erased": erased})
    with session_scope(settings.sqlalchemy_url) as session:
        note = disposal.purge_remnants(session)
    return Disposed(Certificate(content, text, digest), note)


def reject_disposal(settings: Settings, token: Token, number: str) -> None:
    """Turn a disposal request down."""
    with acting(settings, token, "disposal.approve", "disposal.reject") as work:
        request = disposal.reject_disposal(work.session, number, work.actor.name)
        work.audit("disposal.reject", [request.id], result="ok", detail={"number": number})


@dataclass(frozen=True)
class DisposalLine:
    number: str
    status: str
    requested_by: str
    decided_by: str | None
    documents: list[str]
    certificate_sha256: str | None


def list_disposals(settings: Settings, token: Token) -> list[DisposalLine]:
    """Disposal requests and what became of them."""
    with acting(settings, token, "disposal.approve", "disposal.list") as work:
        lines = [
            DisposalLine(r.number, r.status, r.requested_by, r.decided_by,
                         [i.receipt_number for i in r.items], r.certificate_sha256)
            for r in disposal.disposal_lines(work.session)
        ]
        work.audit("disposal.list", result="ok", detail={"requests": len(lines)})
    return lines


def kept_certificate(settings: Settings, token: Token, number: str) -> Certificate:
    """A finished disposal's certificate, from the copy kept in the database, checked
    against the SHA-256 recorded when it was issued."""
    with acting(settings, token, "disposal.approve", "disposal.certificate") as work:
        request = disposal.disposal_by_number(work.session, number)
        if request.certificate is None:
            raise CustodyError(_(
                "{number} is {status}: it has no certificate").format(
                    number=number, status=request.status))
        content = json.loads(request.certificate)
        recorded = request.certificate_sha256
        work.audit("disposal.certificate", [request.id], result="ok")
    text = canonical_json(content)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != recorded:
        raise Damaged(_("the kept certificate does not match its recorded SHA-256"))
    return Certificate(content, text, digest)
