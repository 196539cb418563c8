"""Legal holds (records manager): set, release, list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from schemas.settings import Settings
from storage import retention
from storage.models import Document, LegalHold
from storage.usecases.base import Token, acting


def set_hold(settings: Settings, token: Token, receipt_number: str, reason: str) -> None:
    """Put a document under legal hold: no disposal, and the store keeps its original."""
    with acting(settings, token, "retention.manage", "hold.set") as work:
        document = retention.document_by_receipt(work.session, receipt_number,
                                                  settings.municipality_code)
        retention.set_hold(work.session, work.vault, document, reason, work.actor.name)
        work.audit("hold.set", [document.id, document.source_file_id], purpose=reason.strip(),
                   result="ok")


def release_hold(settings: Settings, token: Token, receipt_number: str, reason: str) -> None:
    """Release a document's legal hold."""
    with acting(settings, token, "retention.manage", "hold.release") as work:
        document = retention.document_by_receipt(work.session, receipt_number,
                                                  settings.municipality_code)
        retention.release_hold(work.session, work.vault, document, reason, work.actor.name)
        work.audit("hold.release", [document.id, document.source_file_id],
                   purpose=reason.strip(), result="ok")


@dataclass(frozen=True)
class Hold:
    receipt_number: str
    set_by: str
    set_at: dt.datetime


def list_holds(settings: Settings, token: Token) -> list[Hold]:
    """Documents under legal hold now."""
    with acting(settings, token, "retention.manage", "hold.list") as work:
        rows = work.session.execute(
            select(Document.receipt_number, LegalHold.set_by, LegalHold.set_at, Document.id)
            .join(LegalHold, LegalHold.document_id == Document.id)
            .where(LegalHold.released_at.is_(None))
            .order_by(Document.receipt_number)
        ).all()
        work.audit("hold.list", [row[3] for row in rows], result="ok")
    return [Hold(receipt, by, at) for receipt, by, at, _id in rows]
