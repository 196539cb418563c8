"""`kura bench run --services`: the corpus through the real worker path.

Throwaway Redis, PostgreSQL and SeaweedFS S3 servers (kura.bench.servers) are started; for each
worker count N a fresh database, bucket and Redis, `kura db upgrade`, one
`kura worker --concurrency N` process, one blank form ingested to warm it up (not timed),
then `kura ingest` of the scans, timed from the command's start until every page is read and
every file assembled (`ingest` waits).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import pyotp
import redis

from kura.bench.servers import (
    KURA,
    ManagedServer,
    PostgresServer,
    RedisServer,
    S3Server,
    ServerError,
    kura_env,
    run_kura,
    run_login,
)

WORKER_READY_TIMEOUT_S = 180.0
INGEST_TIMEOUT_S = 3600.0
STOP_TIMEOUT_S = 30.0


class ServicesError(RuntimeError):
    """The worker path could not be measured (a server, the worker or ingest failed)."""


def _run_kura(env: dict[str, str], *args: str, timeout: float, stdin: str | None = None) -> str:
    done = run_kura(env, *args, timeout=timeout, stdin=stdin)
    if done.returncode != 0:
        raise ServicesError(
            f"kura {' '.join(args[:2])} exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return done.stdout + done.stderr


class Worker:
    """One `kura worker --concurrency N` process group, logging to a file."""

    def __init__(self, env: dict[str, str], concurrency: int, log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            [*KURA, "worker", "--concurrency", str(concurrency)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, broker_url: str, timeout_s: float = WORKER_READY_TIMEOUT_S) -> float:
        """Seconds until the worker answers a remote-control ping on the broker."""
        from celery import Celery

        control = Celery("kura-bench", broker=broker_url)
        started = time.monotonic()
        try:
            while time.monotonic() - started < timeout_s:
                if self.process.poll() is not None:
                    raise ServicesError(
                        f"the worker exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                if control.control.ping(timeout=1.0):
                    return time.monotonic() - started
        finally:
            control.close()
        raise ServicesError(f"the worker was not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Warm shutdown of the worker and its pool children (its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)
        self._log.close()


def measure_workers(
    scans: Sequence[Path],
    pages: int,
    concurrencies: Sequence[int] = (1, 2),
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Pages per minute of `kura ingest` on Celery workers, per worker count."""
    results: dict[str, Any] = {}
    try:
        redis_server, postgres, s3 = RedisServer(), PostgresServer(), S3Server()
    except ServerError as error:
        raise ServicesError(str(error)) from None
    servers: list[ManagedServer] = [redis_server, postgres, s3]
    started_servers: list[ManagedServer] = []
    try:
        progress("starting Redis, PostgreSQL and SeaweedFS S3")
        for server in servers:
            server.start()
            started_servers.append(server)
        for concurrency in concurrencies:
            with redis.Redis.from_url(redis_server.url) as client:
                client.flushall()
            work = Path(tempfile.mkdtemp(prefix="kura-bench-services-"))
            try:
                results[str(concurrency)] = _measure(
                    scans, pages, concurrency, work, redis_server, postgres, s3, progress
                )
            finally:
                shutil.rmtree(work, ignore_errors=True)
    except ServerError as error:
        raise ServicesError(str(error)) from None
    finally:
        for server in reversed(started_servers):
            server.stop()
    progress("the same scans through `kura ingest` in process (the embedded default)")
    work = Path(tempfile.mkdtemp(prefix="kura-bench-embedded-"))
    try:
        in_process = _measure_in_process(scans, pages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    one = results.get("1")
    return {"concurrency": results, "files": len(scans), "pages": pages,
            "in_process": in_process,
            "ratio_to_in_process": round(one["seconds"] / in_process["seconds"], 3)
            if one and in_process["seconds"] else None}


def _measure_in_process(scans: Sequence[Path], pages: int, work: Path) -> dict[str, Any]:
    """`kura ingest` of the same scans with no broker: SQLite, the directory store, pages
    read by the in-process runner inside the command (its models loaded there too)."""
    env = kura_env(data_dir=str(work / "data"), log_level="WARNING", lang="en")
    _run_kura(env, "db", "upgrade", timeout=300)
    _sign_in_clerk(env)
    began = time.perf_counter()
    output = _run_kura(env, "ingest", *map(str, scans), timeout=INGEST_TIMEOUT_S)
    seconds = time.perf_counter() - began
    result = _result(0, pages, seconds, 0.0, output)
    del result["worker_processes"], result["worker_ready_seconds"]
    return result


def _measure(
    scans: Sequence[Path],
    pages: int,
    concurrency: int,
    work: Path,
    redis_server: RedisServer,
    postgres: PostgresServer,
    s3: S3Server,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """One worker count on a fresh database, bucket and data directory."""
    from storage.crypto import Kek

    database = f"bench_{uuid.uuid4().hex[:12]}"
    database_url = postgres.create_database(database)
    env = kura_env(
        data_dir=str(work / "data"),
        database_url=database_url,
        broker_url=redis_server.url,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_region=s3.region,
        s3_bucket=f"bench-{uuid.uuid4().hex[:12]}",
        kek=Kek.generate().to_base64(),
        log_level="WARNING",
        lang="en",  # the summary line is read back (_result)
    )
    try:
        _run_kura(env, "db", "upgrade", timeout=300)
        _sign_in_clerk(env)
        worker = Worker(env, concurrency, work / "worker.log")
        try:
            ready_s = worker.wait_ready(redis_server.url)
            _warm_up(env, work)
            progress(
                f"{concurrency} worker process(es) ready after {ready_s:.1f} s; "
                f"ingesting {len(scans)} scans"
            )
            began = time.perf_counter()
            output = _run_kura(env, "ingest", *map(str, scans), timeout=INGEST_TIMEOUT_S)
            seconds = time.perf_counter() - began
        finally:
            worker.stop()
        reading = _reading_seconds(database_url)
    finally:
        postgres.drop_database(database)
    result = _result(concurrency, pages, seconds, ready_s, output)
    result["reading_seconds"] = round(reading, 2)
    result["fabric_ratio"] = round(seconds * concurrency / reading, 3) if reading else None
    progress(f"{concurrency} worker process(es): {result['pages_per_minute']} pages/min")
    return result


def _reading_seconds(database_url: str) -> float:
    """Seconds the workers spent reading the timed batch's pages (rasterise, the pipeline,
    the page image: what the in-process run times), from the pages' own records: measured
    under the same load as the batch, so the rest of its time is the fabric's."""
    from sqlalchemy import func, select

    from storage.db import session_scope
    from storage.models import Batch, Page, SourceFile

    with session_scope(database_url) as session:
        latest = select(Batch.id).order_by(Batch.created_at.desc()).limit(1).scalar_subquery()
        total = session.scalar(select(func.sum(Page.seconds)).join(SourceFile)
                               .where(SourceFile.batch_id == latest))
    return float(total or 0.0)


def _warm_up(env: dict[str, str], work: Path) -> None:
    """One blank form through the workers before anything is timed, as the in-process run
    warms up: workers in service are long-lived, their models loaded when their processes
    start (workers/celery_app.py), and the timed batch should not wait for that."""
    from pipeline.template import render_blank
    from schemas.forms import load_forms

    form = next(f for f in load_forms().values() if f.kind == "form")
    scan = work / "warm-up.png"
    render_blank(form).convert("RGB").save(scan, dpi=(300, 300))
    _run_kura(env, "ingest", str(scan), timeout=INGEST_TIMEOUT_S)


def _sign_in_clerk(env: dict[str, str]) -> None:
    """A throwaway installation's first account (a security administrator, who sets up the
    TOTP second factor of that duty as it signs in) adds a scanning clerk, who signs in:
    `kura ingest` runs as that person, as in an office."""
    for username, role in (("bench-admin", "security_admin"), ("bench-clerk", "scanning_clerk")):
        password = secrets.token_urlsafe(24)
        _run_kura(
            env,
            "users",
            "add",
            username,
            "--role",
            role,
            "--password-stdin",
            timeout=120,
            stdin=password + "\n",
        )
        signed = run_login(env, username, password, lambda key: pyotp.TOTP(key).now())
        if signed.returncode != 0:
            raise ServicesError(f"kura login {username} exited {signed.returncode}:\n"
                                f"{signed.stdout[-2000:]}\n{signed.stderr[-2000:]}")


def _result(
    concurrency: int, pages: int, seconds: float, ready_s: float, output: str
) -> dict[str, Any]:
    output = " ".join(output.split())  # rich may have wrapped the summary line
    stored = re.search(r"pages (\d+) \(blank (\d+), unrecognised (\d+), failed (\d+)\)", output)
    documents = re.search(r"documents (\d+)", output)
    return {
        "worker_processes": concurrency,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_minute": round(60 * pages / seconds, 2) if seconds else None,
        "worker_ready_seconds": round(ready_s, 2),
        "pages_stored": int(stored.group(1)) if stored else None,
        "pages_failed": int(stored.group(4)) if stored else None,
        "pages_unrecognised": int(stored.group(3)) if stored else None,
        "documents": int(documents.group(1)) if documents else None,
    }
