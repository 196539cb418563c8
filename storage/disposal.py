"""Disposal by two people: a request names documents and a reason; a different person
approves; Kura then destroys the data keys (cryptographic erase), removes the object
versions the store lets go, and issues a certificate with the checksums of what was
destroyed (kept on the request; drawn as PDF by pipeline.render).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from schemas.i18n import _
from schemas.normalise import canonical_json
from storage.custody import CustodyError, FourEyesError, RetentionError
from storage.models import (
    BlindIndex,
    DisposalItem,
    DisposalRequest,
    Document,
    FieldValue,
    Page,
    SourceFile,
    StoredObject,
    next_dated_number,
    utcnow,
)
from storage.objects import Lock, ObjectLocked
from storage.register_models import RegisterEntry
from storage.retention import (
    DEFAULT_LOCK_MODE,
    as_aware,
    check_disposable,
    delete_object,
    document_by_receipt,
)
from storage.vault import Vault

ERASE_METHOD = "cryptographic erase (NIST SP 800-88 Purge)"


def _documents_of(session: Session, receipts: Iterable[str], own: str) -> list[Document]:
    documents = [document_by_receipt(session, r, own) for r in dict.fromkeys(receipts)]
    if not documents:
        raise CustodyError(_("a disposal request names at least one document"))
    return documents


def request_disposal(
    session: Session, receipts: list[str], reason: str, actor: str, today: dt.date | None = None,
    municipality: str = "000000",
) -> DisposalRequest:
    """`municipality`: the office's own, whose document a 受付番号 two municipalities hold
    means (storage/receipts.py)."""
    if not reason.strip():
        raise CustodyError(_("a disposal request needs a reason"))
    documents = _documents_of(session, receipts, municipality)
    named = {d.id for d in documents}
    for document in documents:
        check_disposable(session, document, today)
        siblings = session.scalars(
            select(Document).where(
                Document.source_file_id == document.source_file_id,
                Document.id.not_in(named),
                Document.disposed_at.is_(None),
            )
        ).all()
        if siblings:
            raise CustodyError(
                _("{receipt_number} shares its original scan with {others}: name them too")
                .format(receipt_number=document.receipt_number,
                        others=", ".join(s.receipt_number for s in siblings)))
    open_items = session.scalars(
        select(DisposalItem.receipt_number)
        .join(DisposalRequest)
        .where(DisposalItem.document_id.in_(named), DisposalRequest.status == "requested")
    ).all()
    if open_items:
        raise CustodyError(_(
            "already in an open disposal request: {value}").format(value=', '.join(open_items)))
    request = DisposalRequest(
        number=next_dated_number(
            session, DisposalRequest.number, "D", today or dt.date.today(), 3
        ),
        reason=reason.strip(),
        status="requested",
        requested_by=actor,
        requested_at=utcnow(),
    )
    session.add(request)
    session.flush()
    for document in documents:
        session.add(
            DisposalItem(
                request_id=request.id,
                document_id=document.id,
                receipt_number=document.receipt_number,
            )
        )
    session.flush()
    return request


def disposal_by_number(session: Session, number: str) -> DisposalRequest:
    request = session.scalars(
        select(DisposalRequest).where(DisposalRequest.number == number)
    ).one_or_none()
    if request is None:
        raise CustodyError(_("no disposal request {number}").format(number=number))
    return request


def reject_disposal(session: Session, number: str, actor: str) -> DisposalRequest:
    request = disposal_by_number(session, number)
    if request.status != "requested":
        raise CustodyError(_(
            "{number} is {status}, not waiting for a decision").format(
                number=number, status=request.status))
    request.status, request.decided_by, request.decided_at = "rejected", actor, utcnow()
    return request


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def approve_disposal(
    session: Session, vault: Vault, number: str, actor: str, today: dt.date | None = None
) -> dict[str, Any]:
    """The second person approves: destroy the data keys, remove what the store lets go,
    and return the certificate (also kept on the request, with its SHA-256)."""
    request = disposal_by_number(session, number)
    if request.status != "requested":
        raise CustodyError(_(
            "{number} is {status}, not waiting for approval").format(
                number=number, status=request.status))
    if actor == request.requested_by:
        raise FourEyesError(
            _(
                "{number} was requested by {actor}: a different person must approve it").format(
                    number=number, actor=actor)
        )
    documents = [session.get_one(Document, item.document_id) for item in request.items]
    for document in documents:
        check_disposable(session, document, today)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))
    now = utcnow()
    object_lines: list[dict[str, Any]] = []
    document_lines: list[dict[str, Any]] = []
    sources: dict[str, SourceFile] = {}
    for document in documents:
        pages = session.scalars(select(Page).where(Page.document_id == document.id)).all()
        objects = [
            session.get_one(StoredObject, p.image_object_id) for p in pages if p.image_object_id
        ]
        source = session.get_one(SourceFile, document.source_file_id)
        sources[source.id] = source
        fields = session.scalars(
            select(FieldValue).where(FieldValue.document_id == document.id)
        ).all()
        indexes = len(
            session.scalars(
                select(BlindIndex.id).where(BlindIndex.document_id == document.id)
            ).all()
        )
        session.execute(delete(BlindIndex).where(BlindIndex.document_id == document.id))
        session.execute(  # a keyed identity goes with the fields (its key goes below)
            update(RegisterEntry).where(RegisterEntry.document_id == document.id)
            .values(identity_sealed=None, identity_digests={}, identity_key_id=None))
        document_lines.append(
            {
                "receipt_number": document.receipt_number,
                "document_id": document.id,
                "form_id": document.form_id,
                "received_date": document.received_date.isoformat(),
                "retain_until": document.retain_until.isoformat()
                if document.retain_until
                else "indefinite",
                "data_key_sha256": _sha256(document.wrapped_key),
                "field_values_destroyed": len(fields),
                "sealed_values_sha256": _sha256(
                    b"".join(f.value_sealed + f.raw_sealed for f in fields)
                ),
                "blind_indexes_removed": indexes,
            }
        )
        for value in fields:
            session.delete(value)
        for page in pages:
            page.result_sealed = None
        document.wrapped_key, document.kek_id = b"", ""
        document.status, document.disposed_at, document.disposal_id = "disposed", now, request.id
        for stored in objects:
            object_lines.append(_destroy_object(session, vault, stored, now))
    session.flush()
    for source in sources.values():
        stored = session.get_one(StoredObject, source.object_id)
        if stored.destroyed_at is None:
            object_lines.append(_destroy_object(session, vault, stored, now))
        source.filename = "(disposed)"  # a scanner's file name may name the person
    request.status, request.decided_by, request.decided_at = "done", actor, now
    certificate = {
        "title": "Kura disposal certificate (廃棄・消去証明書)",
        "number": request.number,
        "date": now.isoformat(),
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at.replace(tzinfo=dt.UTC).isoformat()
        if request.requested_at.tzinfo is None
        else request.requested_at.isoformat(),
        "approved_by": actor,
        "approved_at": now.isoformat(),
        "method": ERASE_METHOD,
        "documents": document_lines,
        "objects": object_lines,
    }
    canonical = canonical_json(certificate)
    request.certificate, request.certificate_sha256 = canonical, _sha256(canonical.encode())
    session.flush()
    return certificate


def _destroy_object(
    session: Session, vault: Vault, stored: StoredObject, now: dt.datetime
) -> dict[str, Any]:
    """Cryptographic erase of one object, then removal of its versions where allowed."""
    try:
        sealed: bytes | None = vault.store.get(stored.id)
    except Exception:  # already gone from the store
        sealed = None
    line: dict[str, Any] = {
        "object_id": stored.id,
        "kind": stored.kind,
        "size": stored.size,
        "content_sha256": stored.sha256,
        "sealed_sha256": _sha256(sealed) if sealed is not None else None,
        "data_key_sha256": _sha256(stored.wrapped_key),
    }
    stored.wrapped_key, stored.kek_id, stored.destroyed_at = b"", "", now
    if stored.legal_hold:
        stored.legal_hold = False
        vault.store.set_lock(stored.id, Lock(stored.lock_mode or DEFAULT_LOCK_MODE, None, False))
    try:
        delete_object(session, vault, stored, now)
        line["store"] = "all versions removed"
    except (RetentionError, ObjectLocked):
        until = as_aware(stored.retain_until)
        line["store"] = (
            "sealed bytes kept by the store's retention until "
            f"{until.isoformat() if until else '?'}; unreadable without the key"
        )
    line["store_removed"] = stored.store_removed
    return line


def disposal_lines(session: Session) -> list[DisposalRequest]:
    return list(session.scalars(select(DisposalRequest).order_by(DisposalRequest.number)))


def purge_remnants(session: Session) -> str:
    """After disposal is committed: shrink what the database keeps of old row versions."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return "SQLite: secure_delete on, write-ahead log checkpointed and truncated"
    return (
        "PostgreSQL: old row versions stay until VACUUM; the database owner runs "
        "VACUUM on document, stored_object, field_value and blind_index"
    )


