"""The Celery app on Redis. Tasks carry ids only: never image bytes or personal values."""

from __future__ import annotations

from celery import Celery

from schemas.settings import get_settings
from storage import logmask
from workers import jobs

logmask.install()  # every log record of the worker is masked (個人番号, 基礎年金番号, values)

app = Celery("kura")
app.conf.update(
    broker_url=get_settings().broker_url or "redis://127.0.0.1:6379/0",
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="kura.process_page")
def process_page(page_id: str) -> None:
    jobs.process_page_job(get_settings(), page_id)
