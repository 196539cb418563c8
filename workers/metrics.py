"""Metrics for Prometheus: what the fabric is doing, in counts and seconds, never a value.

Pages are read by many worker processes on many machines, and the endpoint is served by
the web app (web/metrics.py): so the numbers are read at scrape time from what every
process shares — the database (pages, documents, quarantine, and the stage-latency buckets
each worker counts in its page's own transaction) and, with Celery, the broker (queue
length, retries). Nothing is kept only in one process's memory."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from schemas.settings import Settings
from storage.db import session_scope
from storage.models import Document, Page, SourceFile, StageLatency

STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
INF = "+Inf"
CELERY_QUEUE = "celery"
RETRIES_KEY = "kura:metrics:retries"
UNVERIFIED = ("processing", "review", "ready")


def _bound(le: float) -> str:
    return f"{le:g}"


def record_stage_seconds(session: Session, timings: dict[str, float]) -> None:
    """Count one page's stage times into the shared histogram, in the page's transaction
    (so a page read twice is not counted twice: the second run never commits a page)."""
    if not timings:
        return
    bounds = [*map(_bound, STAGE_BUCKETS), INF]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    session.execute(insert(StageLatency).values([
        {"stage": stage, "le": le, "count": 0, "total_seconds": 0.0}
        for stage in timings for le in bounds
    ]).on_conflict_do_nothing())
    for stage, seconds in timings.items():
        reached = [_bound(le) for le in STAGE_BUCKETS if seconds <= le] + [INF]
        session.execute(update(StageLatency)
                        .where(StageLatency.stage == stage, StageLatency.le.in_(reached))
                        .values(count=StageLatency.count + 1))
        session.execute(update(StageLatency)
                        .where(StageLatency.stage == stage, StageLatency.le == INF)
                        .values(total_seconds=StageLatency.total_seconds + seconds))


def count_retry(settings: Settings, task: str) -> None:
    """One retry of a task (a database, broker or store that was away), in the broker."""
    if not settings.broker_url:
        return
    import redis

    with redis.Redis.from_url(settings.broker_url) as client:
        client.hincrby(RETRIES_KEY, task, 1)


class KuraCollector(Collector):
    """Every Kura metric, read when Prometheus asks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        with session_scope(self.settings.sqlalchemy_url) as session:
            yield from self._pages(session)
            yield from self._latency(session)
            yield from self._documents(session)
            yield from self._quarantine(session)
        yield from self._broker()

    def _pages(self, session: Session) -> Iterator[Metric]:
        pages = GaugeMetricFamily("kura_pages", "Pages by status and kind (form, blank, "
                                  "unknown, separator).", labels=["status", "kind"])
        for status, kind, count in session.execute(
                select(Page.status, Page.kind, func.count()).group_by(Page.status, Page.kind)):
            pages.add_metric([status, kind or ""], count)
        yield pages
        failed = GaugeMetricFamily("kura_pages_failed", "Pages that failed, by the stage's "
                                   "error code.", labels=["code"])
        codes: dict[str, int] = {}
        for (reasons,) in session.execute(select(Page.reasons).where(Page.status == "failed")):
            code = next((r.split(":", 1)[1].strip() for r in reasons or []
                         if r.startswith("failed:")), "unknown")
            codes[code] = codes.get(code, 0) + 1
        for code, count in sorted(codes.items()):
            failed.add_metric([code], count)
        yield failed
        queued = session.scalar(select(func.count()).select_from(Page)
                                .where(Page.status == "pending")) or 0
        depth = GaugeMetricFamily("kura_queue_depth", "Work waiting: pages not yet read "
                                  "(database), tasks in the broker's queue.", labels=["where"])
        depth.add_metric(["pages_pending"], queued)
        yield depth

    def _latency(self, session: Session) -> Iterator[Metric]:
        histogram = HistogramMetricFamily("kura_stage_seconds", "Seconds per page in each "
                                          "pipeline stage.", labels=["stage"])
        rows: dict[str, dict[str, tuple[int, float]]] = {}
        for row in session.scalars(select(StageLatency)):
            rows.setdefault(row.stage, {})[row.le] = (row.count, row.total_seconds)
        for stage, buckets in sorted(rows.items()):
            ordered = sorted(buckets.items(), key=lambda item: math.inf if item[0] == INF
                             else float(item[0]))
            histogram.add_metric([stage], [(le, count) for le, (count, _) in ordered],
                                 sum_value=buckets.get(INF, (0, 0.0))[1])
        yield histogram

    def _documents(self, session: Session) -> Iterator[Metric]:
        statuses = dict(session.execute(select(Document.status, func.count())
                                        .group_by(Document.status)).all())
        documents = GaugeMetricFamily("kura_documents", "受付 entries by status.",
                                      labels=["status"])
        for status, count in sorted(statuses.items()):
            documents.add_metric([status], count)
        yield documents
        decided = sum(statuses.get(s, 0) for s in ("review", "ready", "verified"))
        yield GaugeMetricFamily("kura_review_rate", "Share of read documents a person must "
                                "look at (review of review, ready and verified).",
                                value=statuses.get("review", 0) / decided if decided else 0.0)
        oldest = session.scalar(select(func.min(Document.created_at))
                                .where(Document.status.in_(UNVERIFIED)))
        age = 0.0
        if oldest is not None:
            moment = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            age = (dt.datetime.now(dt.UTC) - moment).total_seconds()
        yield GaugeMetricFamily("kura_oldest_unverified_seconds", "Age of the oldest document "
                                "not yet verified.", value=age)

    def _quarantine(self, session: Session) -> Iterator[Metric]:
        held = GaugeMetricFamily("kura_quarantined_files", "Files in the quarantine room, by "
                                 "state.", labels=["state"])
        for state, count in session.execute(
                select(SourceFile.quarantine_state, func.count())
                .where(SourceFile.quarantine_state.is_not(None))
                .group_by(SourceFile.quarantine_state)):
            held.add_metric([state or ""], count)
        yield held
        rejected = GaugeMetricFamily("kura_rejected_files", "Files intake refused to read, "
                                     "by reason code (duplicates included).", labels=["code"])
        for code, count in session.execute(
                select(SourceFile.reject_code, func.count())
                .where(SourceFile.status == "rejected").group_by(SourceFile.reject_code)):
            rejected.add_metric([code or ""], count)
        yield rejected

    def _broker(self) -> Iterator[Metric]:
        retries = CounterMetricFamily("kura_task_retries", "Task retries after a service "
                                      "was away, by task.", labels=["task"])
        if self.settings.broker_url:
            import redis

            with redis.Redis.from_url(self.settings.broker_url, socket_timeout=5) as client:
                for task, count in client.hgetall(RETRIES_KEY).items():
                    retries.add_metric([task.decode()], int(count))
                depth = GaugeMetricFamily("kura_broker_queue_depth", "Tasks waiting in the "
                                          "broker's queue.", labels=["queue"])
                depth.add_metric([CELERY_QUEUE], client.llen(CELERY_QUEUE))
                yield depth
        yield retries
