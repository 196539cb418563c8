"""A database engine made before a fork (Celery's prefork pool, `kura worker`) serves each
child with connections of its own."""

from __future__ import annotations

import multiprocessing

from sqlalchemy import text

from storage.db import get_engine


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
