"""Taking scans in: a batch from the CLI, an upload or the hot folder, and what became of
each file."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from schemas.settings import Settings
from storage import intake
from storage.db import session_scope
from storage.intake import Arrival, IntakeCheck, IntakeResult, TurnedAway
from storage.models import SourceFile
from storage.queries import BatchReport, batch_report
from storage.usecases.base import Token, acting, ready


def take_in_batch(settings: Settings, token: Token, arrivals: Sequence[Arrival | TurnedAway],
                  channel: str, checks: tuple[IntakeCheck, ...]) -> IntakeResult:
    """Take files in as one batch (scanning clerk): seal the originals, open 受付 entries
    and pages, answer every entry (taken, quarantined, refused, skipped); `checks` is the
    intake chain (workers.intake.INTAKE_CHECKS). The batch and every entry are audit
    entries that commit with it. Reading the pages is the caller's
    next step (workers.runner.run_pages)."""
    with acting(settings, token, "intake", "intake.batch") as work:
        return intake.take_in(work.session, work.vault, arrivals, channel, checks, work.actor,
                              work.municipality)


def batch_busy(settings: Settings, batch_id: str) -> bool:
    """Whether any file of the batch is still being read or assembled."""
    with session_scope(settings.sqlalchemy_url) as session:
        busy = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(
                SourceFile.batch_id == batch_id,
                SourceFile.status.in_(("processing", "assembling")),
            )
        )
    return bool(busy)


def report_of_batch(settings: Settings, batch_id: str) -> BatchReport:
    """Where every file of a batch went (ids, counts and reasons; no personal value), for
    the clerk who just took it in."""
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        return batch_report(session, batch_id)


def batch_report_of(settings: Settings, token: Token, batch_id: str) -> BatchReport:
    """`report_of_batch` for a clerk who reads it through the server (kura ingest with
    KURA_SERVER_URL): takes the intake duty, and the reading is an audit entry."""
    with acting(settings, token, "intake", "batch.report") as work:
        report = batch_report(work.session, batch_id)
        work.audit("batch.report", [batch_id], result="ok")
    return report
