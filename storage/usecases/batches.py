"""Batches: how far a batch's pages have got (queued, read, failed), live."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.errors import NotFound
from schemas.settings import Settings
from storage.models import Batch, Page, SourceFile
from storage.usecases.base import Token, acting


class BatchNotFound(NotFound):
    code = "batch_not_found"


@dataclass(frozen=True)
class FailedPage:
    file: str
    """The file's label as Kura keeps it (file-001.pdf), never the name it came with."""
    number: int
    reason: str


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    files: int
    files_quarantined: int
    files_finished: int
    pages: int
    queued: int
    """Pages not read yet (waiting for a worker or being read)."""
    read: int
    failed: int
    failed_pages: tuple[FailedPage, ...]

    @property
    def finished(self) -> bool:
        return self.files_finished + self.files_quarantined == self.files


def progress_of(session: Session, batch_id: str) -> BatchProgress:
    files = dict(session.execute(
        select(SourceFile.status, func.count()).where(SourceFile.batch_id == batch_id)
        .group_by(SourceFile.status)).all())
    pages = dict(session.execute(
        select(Page.status, func.count()).join(SourceFile)
        .where(SourceFile.batch_id == batch_id).group_by(Page.status)).all())
    failed = session.execute(
        select(SourceFile.filename, Page.number, Page.reasons).join(SourceFile)
        .where(SourceFile.batch_id == batch_id, Page.status == "failed")
        .order_by(SourceFile.position, Page.number)).all()
    return BatchProgress(
        batch_id=batch_id,
        files=sum(files.values()),
        files_quarantined=files.get("rejected", 0),
        files_finished=files.get("done", 0),
        pages=sum(pages.values()),
        queued=pages.get("pending", 0),
        read=pages.get("done", 0),
        failed=pages.get("failed", 0),
        failed_pages=tuple(FailedPage(name, number, "; ".join(reasons or []))
                           for name, number, reasons in failed),
    )


def batch_status(settings: Settings, token: Token,
                 batch_id: str | None = None) -> BatchProgress:
    """The progress of a batch (by id or its first characters; default the latest). One
    audit entry. `kura batch status --follow` calls it again with the full id until the
    batch is finished, here or through the server alike (nothing but data crosses the
    wire)."""
    with acting(settings, token, "intake") as work:
        batch = _find(work.session, batch_id)
        progress = progress_of(work.session, batch.id)
        work.audit("batch.status", [batch.id], result="ok")
    return progress


def _find(session: Session, batch_id: str | None) -> Batch:
    query = select(Batch).order_by(Batch.created_at.desc())
    if batch_id:
        query = query.where(Batch.id.startswith(batch_id.lower(), autoescape=True))
    found = session.scalars(query.limit(2)).all()
    if not found or (batch_id and len(found) > 1):
        raise BatchNotFound(f"no single batch starts with {batch_id!r}" if batch_id
                            else "no batch was taken in yet")
    return found[0]
