"""The intake desk's view of a batch while it is read: counts and states only, never the
content of a record (a clerk sees how many pages were read, not what they say)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from schemas.errors import NotFound
from schemas.i18n import _
from schemas.settings import Settings
from storage.models import Batch, Page, SourceFile
from storage.queries import batch_report
from storage.usecases.base import acting


@dataclass(frozen=True)
class Progress:
    batch_id: str
    files: int
    quarantined: list[tuple[str, str]]
    """(file label, reject code) of each quarantined file."""
    pages: int
    pages_read: int
    pages_failed: int
    documents: int
    fields_review: int
    seconds_left: float | None
    """Estimated from the pages read so far; None before the first page is read."""

    @property
    def finished(self) -> bool:
        return self.pages_read + self.pages_failed >= self.pages


def progress(settings: Settings, token: str | None, batch_id: str) -> Progress:
    with acting(settings, token, "intake") as work:
        if work.session.get(Batch, batch_id) is None:
            raise NotFound(_("no such batch"))
        report = batch_report(work.session, batch_id)
        pages = work.session.execute(
            select(Page.status, Page.seconds).join(SourceFile)
            .where(SourceFile.batch_id == batch_id)).all()
        rejected = work.session.execute(
            select(SourceFile.filename, SourceFile.reject_code)
            .where(SourceFile.batch_id == batch_id, SourceFile.status == "rejected")
            .order_by(SourceFile.position)).all()
        read = [seconds or 0.0 for status, seconds in pages if status == "done"]
        failed = sum(status == "failed" for status, _ in pages)
        waiting = len(pages) - len(read) - failed
        work.audit("intake.progress", [batch_id], result="ok")
        return Progress(
            batch_id=batch_id, files=len(report.files),
            quarantined=[(label, code or "") for label, code in rejected],
            pages=len(pages), pages_read=len(read), pages_failed=failed,
            documents=report.documents, fields_review=report.fields_review,
            seconds_left=sum(read) / len(read) * waiting if read else None)
