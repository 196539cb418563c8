"""Where page work runs: on Celery workers when a broker is configured, else in process."""

from __future__ import annotations

from schemas.settings import Settings
from workers import jobs


def run_pages(settings: Settings, page_ids: list[str]) -> None:
    if settings.uses_celery:
        from workers.celery_app import process_page

        for page_id in page_ids:
            process_page.delay(page_id)
        return
    for page_id in page_ids:
        jobs.process_page_job(settings, page_id)
