"""Personal data stays out of the plumbing. The log mask on its own; then a whole batch
through the real Celery path (Redis, PostgreSQL, S3) at DEBUG, after which every log line,
every Redis key and message payload (captured while the batch ran), every object name, the
audit log and every text column of the database are searched for the planted personal
values and for 12- and 10-digit numbers: none may appear."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import LargeBinary, inspect, select

import storage.accounts
import storage.audit  # noqa: F401  (their tables join Base.metadata)
from kura.bench.servers import S3Bucket
from kura.bench.synth.corpus import make_sample_scans
from storage import logmask
from storage.db import get_engine, session_scope
from storage.models import Base
from tests.helpers import (
    PASSWORD,
    CeleryWorker,
    add_person,
    run_kura,
    services_env,
    sign_in,
    truth_of,
)

MY_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{12}(?![0-9A-Za-z])")
PENSION_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{4}-?[0-9]{6}(?![0-9A-Za-z])")
SPACED_MY_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}(?![0-9A-Za-z])")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PERSONAL_FIELDS = re.compile(r"name|kana|my_number|pension|address|phone|birth|postal")


# --- the mask -----------------------------------------------------------------------------


@pytest.fixture
def clean_registry() -> Iterator[None]:
    logmask.forget_all()
    yield
    logmask.forget_all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my number 123456789012 read", "my number ＊＊＊ read"),
        ("個人番号1234 5678 9012です", "個人番号＊＊＊です"),
        ("個人番号１２３４５６７８９０１２", "個人番号＊＊＊"),
        ("bpn 1234-567890, again 1234567890.", "bpn ＊＊＊, again ＊＊＊."),
        ("phone 0312345678", "phone ＊＊＊"),
    ],
)
def test_numbers_are_masked(text: str, expected: str) -> None:
    assert logmask.mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "page 6fe5937def7d42c68415d0bf1249c635 done",
        "2026-11-22 18:39:00,367 INFO receipt R20261122-000123",
        "sha256 b81def768ae6663744f55fa8ad60c82ef5191191379d9bb98f2c2c4a7b17dcb6",
        "13 digits 1234567890123 and 11 digits 12345678901 are neither",
    ],
)
def test_ids_dates_and_other_numbers_are_left_alone(text: str) -> None:
    assert logmask.mask(text) == text


def test_registered_values_are_masked_in_any_log_record(
    clean_registry: None, caplog: pytest.LogCaptureFixture
) -> None:
    logmask.install()
    logmask.register(["山田 太郎", "東京都千代田区霞が関一丁目2番3号", None, ""])
    log = logging.getLogger("kura.test")
    with caplog.at_level(logging.DEBUG, logger="kura.test"):
        log.info("name %s at %s", "山田 太郎", "東京都千代田区霞が関一丁目2番3号")
        log.info("without the space: %s", "山田太郎")
        try:
            raise ValueError("could not read 山田太郎, number 123456789012")
        except ValueError:
            log.exception("failed")
    text = caplog.text
    assert "山田" not in text and "霞が関" not in text and "123456789012" not in text
    assert text.count("＊＊＊") >= 5
    assert "ValueError: could not read ＊＊＊, number ＊＊＊" in text


def test_the_filter_masks_handlers_configured_by_hand(clean_registry: None) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pension %s", ("1234567890",), None)
    assert logmask.PersonalDataFilter().filter(record)
    assert record.getMessage() == "pension ＊＊＊"


def test_errors_shown_by_the_cli_are_masked(
    clean_registry: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing command names the error, never the values (and Typer shows no locals)."""
    from kura import cli

    assert cli.app.pretty_exceptions_show_locals is False
    logmask.register(["山田太郎"])

    def failing() -> None:
        secret = "山田太郎 123456789012"  # a local a traceback with locals would print
        raise RuntimeError(f"could not file {secret}")

    monkeypatch.setattr(cli, "app", failing)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    shown = capsys.readouterr()
    assert "RuntimeError: could not file ＊＊＊ ＊＊＊" in shown.err
    assert "山田" not in shown.out + shown.err and "123456789012" not in shown.out + shown.err


# --- a whole batch through Celery ---------------------------------------------------------


class RedisRecorder:
    """Records every key and value of Redis while a batch runs, decoding Celery messages
    (their bodies are base64 in Redis, so a plain byte scan would see nothing)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.seen: set[str] = set()
        self.task_bodies = 0
        self.scores: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RedisRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.snapshot()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.snapshot()
            time.sleep(0.02)

    def _add(self, value: bytes | str) -> None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if text in self.seen:
            return
        self.seen.add(text)
        try:
            message = json.loads(text)
        except ValueError:
            return
        for item in message if isinstance(message, list) else [message]:
            if isinstance(item, dict) and isinstance(item.get("body"), str):
                body = item["body"]
                if item.get("properties", {}).get("body_encoding") == "base64":
                    body = base64.b64decode(body).decode("utf-8", "replace")
                    self.task_bodies += 1
                self.seen.add(body)

    def snapshot(self) -> None:
        for key in self.client.scan_iter(count=1000):
            self._add(key)
            kind = self.client.type(key).decode()
            if kind == "string":
                self._add(self.client.get(key) or b"")
            elif kind == "list":
                for item in self.client.lrange(key, 0, -1):
                    self._add(item)
            elif kind == "hash":
                for field, value in self.client.hgetall(key).items():
                    self._add(field)
                    self._add(value)
            elif kind == "set":
                for item in self.client.smembers(key):
                    self._add(item)
            elif kind == "zset":
                for member, score in self.client.zrange(key, 0, -1, withscores=True):
                    self._add(member)
                    self.scores.append((key.decode(), score))


def _planted(scans: list[Path]) -> set[str]:
    """Every personal value written on the scans, and the names without their spaces."""
    values: set[str] = set()
    for scan in scans:
        for name, value in truth_of(scan)["fields"].items():
            if PERSONAL_FIELDS.search(name) and isinstance(value, str) and value:
                values |= {value, value.replace(" ", "").replace("　", "")}
    return {v for v in values if len(v) >= 2}


def _leaks(where: str, text: str, planted: set[str]) -> list[str]:
    found = [
        f"{where}: planted value {v!r}"
        for v in planted
        if (re.search(rf"(?<![0-9]){re.escape(v)}(?![0-9])", text) if v.isdigit() else v in text)
    ]
    # Celery's task ids are UUIDs, whose digit runs are no person's number.
    without_ids = UUID.sub("<uuid>", text)
    for pattern in (MY_NUMBER, PENSION_NUMBER, SPACED_MY_NUMBER):
        found += [
            f"{where}: number {m.group(0)!r} in …{without_ids[max(m.start() - 60, 0) : m.end()]}"
            for m in pattern.finditer(without_ids)
        ]
    return found


def _database_text(url: str) -> Iterator[tuple[str, str]]:
    """(table, text) of every non-binary column of every row Kura keeps."""
    with get_engine(url).connect() as connection:
        present = set(inspect(connection).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            columns = [c for c in table.columns if not isinstance(c.type, LargeBinary)]
            for row in connection.execute(select(*columns)):
                yield table.name, json.dumps([str(v) for v in row], ensure_ascii=False)


@pytest.mark.services
def test_no_personal_value_leaks_into_logs_redis_object_names_or_audit(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: S3Bucket
) -> None:
    scans = make_sample_scans(tmp_path / "scans", 4, seed=5505)
    planted = _planted(scans)
    assert len(planted) > 20
    env = services_env(
        tmp_path / "data",
        redis_url,
        postgres_url,
        s3,
        log_level="DEBUG",
        audit_checkpoint_every="10",
    )
    logs: dict[str, str] = {"db upgrade": run_kura(env, "db", "upgrade")}
    logs["login"] = sign_in(env)  # scanning clerk + records manager
    with CeleryWorker(env) as worker, RedisRecorder(redis_url) as recorded:
        logs["ingest"] = run_kura(env, "ingest", *map(str, scans), timeout=600)
    logs["worker"] = worker.log
    assert f"documents {len(scans)}" in logs["ingest"], logs["ingest"] + logs["worker"]
    assert "DEBUG" in logs["worker"] and "DEBUG" in logs["ingest"]  # really at DEBUG
    assert "kura.process_page" in logs["worker"]
    logs["queue"] = run_kura(env, "queue")
    logs["queue --json"] = run_kura(env, "queue", "--json")
    receipt = _json_tail(logs["queue --json"])[0]["receipt_number"]
    logs["original"] = run_kura(
        env,
        "original",
        receipt,
        "--out",
        str(tmp_path / "o.bin"),
        "--reason",
        "records check for the leak test",
    )
    add_person(env, "auditor1", "auditor")
    logs["auditor login"] = run_kura(
        env, "login", "auditor1", "--password-stdin", input=PASSWORD + "\n"
    )
    logs["audit search"] = run_kura(env, "audit", "search", "--json")
    logs["audit verify"] = run_kura(env, "audit", "verify")
    assert "audit chain intact" in logs["audit verify"]

    problems: list[str] = []
    for command, text in logs.items():
        problems += _leaks(f"log of `kura {command}`", text, planted)
    # Redis: everything seen while the batch ran, task bodies decoded
    assert recorded.task_bodies >= 1, "no Celery message was captured"
    for value in recorded.seen:
        problems += _leaks("redis", value, planted)
    now = time.time()
    for key, score in recorded.scores:  # sorted-set scores are times (s or ms), not content
        seconds = score / 1000 if key.endswith("deadlines") else score
        assert now - 7200 < seconds < now + 7200, (key, score)
    # object names, in the originals' bucket, the audit bucket and the data directory
    client = s3.client()
    names = [
        o.object_name or ""
        for bucket in (s3.bucket, f"{s3.bucket}-audit")
        if client.bucket_exists(bucket)
        for o in client.list_objects(bucket, recursive=True)
    ]
    assert len(names) >= 2 * len(scans)
    names += [str(p.relative_to(tmp_path / "data")) for p in (tmp_path / "data").rglob("*")]
    problems += _leaks("object names", "\n".join(names), planted)
    # the audit log and every text column of the database
    for table, text in _database_text(postgres_url):
        problems += _leaks(f"database table {table}", text, planted)
    assert not problems, "\n".join(sorted(set(problems))[:40])
    with session_scope(postgres_url) as session:
        assert session.execute(select(Base.metadata.tables["audit_entry"].c.seq)).first()


def _json_tail(output: str) -> Any:
    """The JSON list `kura queue --json` prints, after any DEBUG log lines."""
    start = output.index("\n[") + 1 if not output.startswith("[") else 0
    decoder = json.JSONDecoder()
    return decoder.raw_decode(output[start:])[0]
