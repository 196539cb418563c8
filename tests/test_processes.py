"""Several processes at once: a database engine made before a fork (Celery's prefork pool,
`kura worker`) serves each child with connections of its own, and commands starting together
on a new installation make its buckets once, with Object Lock."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from kura.bench.servers import S3Bucket
from storage.db import get_engine
from storage.objects import ensure_locked_bucket


def _query_many(url: str, times: int) -> None:
    with get_engine(url).connect() as connection:
        for n in range(times):
            assert connection.execute(text("SELECT :n"), {"n": n}).scalar() == n


def test_children_of_a_fork_do_not_share_the_parents_connection(postgres_url: str) -> None:
    _query_many(postgres_url, 1)  # the parent's connection now waits in the pool
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_query_many, args=(postgres_url, 300)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0]
    _query_many(postgres_url, 1)  # and the parent's own is still good


def test_buckets_made_by_commands_starting_together(s3: S3Bucket) -> None:
    for attempt in range(3):
        bucket = f"{s3.bucket}-{attempt}"
        with ThreadPoolExecutor(4) as pool:
            locked = list(pool.map(ensure_locked_bucket, [s3.client()] * 4, [bucket] * 4))
        assert locked == [True] * 4
