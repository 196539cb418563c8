"""Where page work runs: on Celery workers when a broker is configured, else in process.

In process (the embedded default) there is no broker to hold work while nobody runs it, so
each command finishes what an earlier one left: pages still pending when their command was
killed. A lock file tells interrupted work from work a live command is doing right now: every
command reading pages holds it shared, and a command that can take it alone knows nobody
else is reading."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from schemas.settings import Settings
from workers import jobs


def run_pages(settings: Settings, page_ids: list[str]) -> None:
    if settings.uses_celery:
        from workers.celery_app import send_pages

        send_pages(settings, page_ids)
        return
    with _reading(settings):
        for page_id in page_ids:
            jobs.process_page_job(settings, page_id)


def resume_interrupted(settings: Settings, but_not: str | None = None) -> int:
    """At the start of a command: finish the pages and files an earlier command left (the
    embedded default) or send again what the broker lost (workers), leaving the batch
    `but_not` (the command's own) alone. Returns the pages."""
    if settings.uses_celery:
        from workers.celery_app import send_pages

        return jobs.sweep(settings, dt.timedelta(seconds=settings.sweep_after_s),
                          lambda ids: send_pages(settings, ids), but_not)
    stale: list[str] = []
    with _reading(settings, alone_first=True) as lock:
        older_than = dt.timedelta(seconds=0 if lock.alone else settings.sweep_after_s)
        jobs.sweep(settings, older_than, stale.extend, but_not)
        lock.share()  # what is left to do is ours now: others may start their own
        for page_id in stale:
            jobs.process_page_job(settings, page_id)
    return len(stale)


class _Lock:
    def __init__(self, descriptor: int, alone: bool) -> None:
        self.descriptor, self.alone = descriptor, alone

    def share(self) -> None:
        fcntl.flock(self.descriptor, fcntl.LOCK_SH)


@contextmanager
def _reading(settings: Settings, alone_first: bool = False) -> Iterator[_Lock]:
    """Held while this process reads pages in process; says whether it was alone."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(settings.data_dir / "runner.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        alone = False
        if alone_first:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                pass
        if not alone:
            fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield _Lock(descriptor, alone)
    finally:
        os.close(descriptor)  # the lock goes with it, and with the process if it is killed
