"""Shared fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TypeVar

import pytest
import redis
from playwright.sync_api import Browser

from kura.bench.servers import (
    ManagedServer,
    PostgresServer,
    RedisServer,
    S3Bucket,
    S3Server,
    ServerError,
)
from schemas.i18n import speaking

ServerT = TypeVar("ServerT", bound=ManagedServer)

# --- Real servers: each starts once per session, on free 127.0.0.1 ports ---------------


def _started(server_class: type[ServerT]) -> Iterator[ServerT]:
    # A missing binary or a server that does not start fails the tests, never skips them.
    try:
        server = server_class()
        server.start()
    except ServerError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _started(RedisServer)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _started(PostgresServer)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    yield from _started(S3Server)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of an empty Redis database."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty PostgreSQL database of this test's own."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def s3(s3_server: S3Server) -> S3Bucket:
    """S3 credentials and a bucket name no other test uses (not created)."""
    return S3Bucket(
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        region=s3_server.region,
        bucket=f"test-{uuid.uuid4().hex[:16]}",
    )


# --- A real browser for the rooms' tests (Debian's Chromium; never `playwright install`) ---


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test run (tests/web_browser.py serves the rooms)."""
    from kura.bench.keystrokes import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture(autouse=True)
def _in_english(request: pytest.FixtureRequest) -> Iterator[None]:
    """Kura speaks Japanese unless told otherwise; the tests read its words in English (the
    commands they start too: kura_env), except a module that chooses the language of each
    thing it reads (`CHOOSES_LANGUAGE = True`). The rooms choose per request, so this leaves
    them in Japanese."""
    if getattr(request.module, "CHOOSES_LANGUAGE", False):
        yield
        return
    with speaking("en"):
        yield
