"""The Celery app on Redis. Tasks carry ids only: never image bytes or personal values.

A page task is acknowledged only when it has finished (a worker that dies mid-page leaves its
message to be delivered again), retried with growing pauses while the database, Redis or the
object store is down, and stopped by its time limits. `kura worker --beat` also runs the
sweeper, which sends again whatever was lost on the way (a Redis restart empties the queue)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy import update

from schemas.settings import Settings, get_settings
from storage import logmask
from storage.db import session_scope
from storage.models import Page, utcnow
from workers import jobs

log = logging.getLogger(__name__)
logmask.install()  # every log record of the worker is masked (個人番号, 基礎年金番号, values)

settings = get_settings()
app = Celery("kura")
app.conf.update(
    broker_url=settings.broker_url or "redis://127.0.0.1:6379/0",
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # Redis away for a while: wait for it, do not exit
    # A message taken by a worker that died unacknowledged comes back after this; a live
    # page never runs longer (its hard time limit), so it is never delivered twice alive.
    broker_transport_options={"visibility_timeout": settings.page_time_limit_s + 60},
    worker_hijack_root_logger=False,
    worker_proc_alive_timeout=300,  # a new worker process loads its models first (_warm_up)
    beat_schedule={
        "kura.sweep": {"task": "kura.sweep", "schedule": float(settings.sweep_every_s)},
    },
    beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
)


@worker_process_init.connect
def _warm_up(**_: object) -> None:
    """Each worker process loads its models before it takes its first page: otherwise the
    first page of every process pays for them (seconds), inside some batch's time."""
    from pipeline.page import warm_up

    try:
        warm_up()
    except Exception as error:  # never a worker that cannot start: its pages say what is wrong
        log.warning("worker warm-up failed (%s): models load on the first page",
                    type(error).__name__)


@app.task(
    name="kura.process_page",
    autoretry_for=jobs.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=10,
    soft_time_limit=settings.page_soft_time_limit_s,
    time_limit=settings.page_time_limit_s,
)
def process_page(page_id: str) -> None:
    jobs.process_page_job(get_settings(), page_id)


@app.task(name="kura.sweep", ignore_result=True)
def sweep() -> None:
    current = get_settings()
    jobs.sweep(current, dt.timedelta(seconds=current.sweep_after_s),
               lambda page_ids: send_pages(current, page_ids))


def send_pages(settings: Settings, page_ids: list[str]) -> None:
    """Each page its own task (ids only), marked as sent for the sweeper."""
    if not page_ids:
        return
    with session_scope(settings.sqlalchemy_url) as session:
        session.execute(update(Page).where(Page.id.in_(page_ids)).values(queued_at=utcnow()))
    for page_id in page_ids:
        process_page.delay(page_id)
