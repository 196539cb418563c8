"""Breaking things under a batch on real Celery workers, Redis, PostgreSQL and S3: the batch
completes, every page read exactly once, checked page by page in the database.

The sweeper runs every second and sends again a page left pending 3 s (in production
minutes): a Redis restart empties the queue, a worker killed outright leaves its message
unacknowledged until the broker's visibility timeout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kura.bench.servers import PostgresServer, RedisServer, S3Bucket, S3Server
from storage.db import session_scope
from tests.fabric_checks import (
    check_every_page_read_once,
    comes_true,
    files_finished,
    page_counts,
    paper_pdf,
    source_of,
    wait_for,
)
from tests.helpers import CeleryWorker, run_kura, services_env, settings_from, sign_in
from workers.jobs import DIE_ON_PAGE_FOR_TESTS, MAX_ATTEMPTS

pytestmark = pytest.mark.services

FAST_SWEEP = {"sweep_after_s": "3", "sweep_every_s": "1", "log_level": "WARNING"}


def _scans(folder: Path) -> list[Path]:
    """Three files, ten pages."""
    return [paper_pdf(folder / f"scan{n}.pdf", pages, seed=n)
            for n, pages in enumerate((4, 3, 3))]


def _run_breaking(env: dict[str, str], scans: list[Path],
                  breaks: list[tuple[int, Callable[[CeleryWorker], None]]]) -> None:
    """Ingest `scans` (not waiting), then for each (pages read, break): once that many pages
    are read, break something; then wait for the batch and check it page by page."""
    run_kura(env, "ingest", "--no-wait", *map(str, scans))
    with CeleryWorker(env, "--beat") as worker:
        for after, breaking in breaks:
            wait_for(lambda after=after: page_counts(env).get("done", 0) >= after,  # type: ignore[misc]
                     180, f"{after} pages read")
            breaking(worker)
        finished = comes_true(lambda: files_finished(env, len(scans)), 180)
    said = "\n".join(line for line in worker.log.splitlines() if "ERROR" in line
                     or "WARNING" in line or "Error:" in line)
    assert finished, f"pages {page_counts(env)}; the worker said:\n{said[-8000:]}"
    check_every_page_read_once(env, scans)
    status = " ".join(run_kura(env, "batch", "status").split())
    assert "queued 0, read 10, failed 0" in status, status


def _installation(tmp_path: Path, redis_url: str, postgres_url: str,
                  s3: S3Bucket) -> dict[str, str]:
    env = services_env(tmp_path / "data", redis_url, postgres_url, s3, **FAST_SWEEP)
    run_kura(env, "db", "upgrade")
    sign_in(env)
    return env


def test_workers_killed_mid_batch_lose_nothing_and_double_nothing(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: S3Bucket
) -> None:
    env = _installation(tmp_path, redis_url, postgres_url, s3)
    kill: Callable[[CeleryWorker], None] = lambda worker: worker.kill_and_restart()  # noqa: E731
    _run_breaking(env, _scans(tmp_path), [(1, kill), (4, kill), (7, kill)])


def test_redis_s3_and_postgresql_going_away_mid_batch(
    tmp_path: Path,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    redis_url: str,
    postgres_url: str,
    s3: S3Bucket,
) -> None:
    env = _installation(tmp_path, redis_url, postgres_url, s3)
    _run_breaking(env, _scans(tmp_path), [
        (1, lambda _: redis_server.restart()),  # the queue is emptied
        (4, lambda _: _away(env, s3_server, S3_OUTAGE_S)),  # originals and page images away
        (7, lambda _: postgres_server.restart(down_s=2)),  # every connection dropped
    ])


S3_OUTAGE_S = 30
"""As long as the issue asks: longer than the first retries' pauses (2, 4, 8, 16 s), so a
page waits through several of them."""


def _away(env: dict[str, str], s3_server: S3Server, seconds: float) -> None:
    """Stop the S3 server for `seconds`: no page can be kept meanwhile (its image is stored
    there), except the one the single worker process may have been saving at that moment."""
    before = page_counts(env).get("done", 0)
    s3_server.restart(down_s=seconds)
    during = page_counts(env).get("done", 0)
    assert during - before <= 1, f"{during - before} pages kept while S3 was away"


def test_a_page_that_kills_its_worker_every_time_is_set_aside_and_the_batch_goes_on(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: S3Bucket
) -> None:
    """The worker process is killed outright (SIGKILL) each time it starts reading one page,
    its message delivered again after each death: after MAX_ATTEMPTS deaths the page is set
    aside with its reason, not tried again, and the other nine pages are read once each."""
    env = _installation(tmp_path, redis_url, postgres_url, s3)
    scans = _scans(tmp_path)
    run_kura(env, "ingest", "--no-wait", *map(str, scans))
    with session_scope(settings_from(env).sqlalchemy_url) as session:
        first = source_of(session, env, scans[0])
        deadly, label = next(p.id for p in first.pages if p.number == 2), first.filename
    with CeleryWorker({**env, DIE_ON_PAGE_FOR_TESTS: deadly}, "--beat") as worker:
        finished = comes_true(lambda: files_finished(env, len(scans)), 300)
    deaths = worker.log.count("exited with 'signal 9 (SIGKILL)'")
    assert finished, f"pages {page_counts(env)}; the worker said:\n{worker.log[-8000:]}"
    assert deaths == MAX_ATTEMPTS, worker.log[-8000:]
    check_every_page_read_once(env, scans, {(scans[0].name, 2): ["failed: too_many_attempts"]})
    status = " ".join(run_kura(env, "batch", "status").split())
    assert "queued 0, read 9, failed 1" in status, status
    assert f"set aside in quarantine: {label} page 2 — failed: too_many_attempts" in status
    [line] = json.loads(run_kura(env, "quarantine", "pages", "--json"))
    assert (line["id"], line["number"], line["reason"]) == (
        deadly, 2, "failed: too_many_attempts")
    assert line["attempts"] == MAX_ATTEMPTS + 1  # the deliveries it killed, and the last
