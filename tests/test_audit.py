"""The audit chain: appends are serialised and chained; verify names the first entry that
was changed, removed, reordered or inserted, and a checkpoint that was altered or removed;
PostgreSQL itself refuses UPDATE and DELETE; checkpoints sit under S3 Object Lock."""

from __future__ import annotations

import base64
import csv
import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from kura.bench.servers import S3Bucket
from schemas.settings import Settings
from storage.audit import GENESIS, Actor, AuditEntry, append, compute_hash
from storage.audit_reports import quarter_bounds, report_csv, review_report, search
from storage.audit_verify import verify
from storage.checkpoints import (
    Checkpoint,
    S3Checkpoints,
    checkpoint_if_due,
    checkpoint_name,
    checkpoint_store,
    write_checkpoint,
)
from storage.db import get_engine, grant_app_role, session_scope, upgrade
from storage.models import Batch
from storage.runtime import vault_for
from workers.intake import Arrival, take_in

CLERK = Actor("tanaka", "scanning_clerk")
ENTRIES = 12
EVERY = 5


def _settings(tmp_path: Path, **extra: object) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", audit_checkpoint_every=EVERY, **extra)  # type: ignore[arg-type]
    upgrade(settings.sqlalchemy_url)
    return settings


def _fill(settings: Settings, count: int = ENTRIES) -> None:
    """`count` entries, each in its own transaction, checkpointing as work does."""
    for number in range(count):
        with session_scope(settings.sqlalchemy_url) as session:
            append(
                session,
                Actor(f"person{number % 3}", "verifier"),
                "record.read",
                [f"doc{number:04d}"],
                result="ok",
                detail={"n": number},
            )
        checkpoint_if_due(settings)


@pytest.fixture
def chain(tmp_path: Path) -> Settings:
    settings = _settings(tmp_path)
    _fill(settings)
    return settings


def _sqlite(settings: Settings) -> sqlite3.Connection:
    """A raw connection without Kura's pragmas, after dropping the guard triggers: what
    someone holding the database file can do."""
    connection = sqlite3.connect(settings.data_dir / "kura.db", isolation_level=None)
    names = [
        row[0]
        for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    ]
    for name in names:
        connection.execute(f"DROP TRIGGER {name}")
    return connection


def _entry(settings: Settings, seq: int) -> AuditEntry:
    with session_scope(settings.sqlalchemy_url) as session:
        return session.get_one(AuditEntry, seq)


def _first(settings: Settings) -> tuple[str, int | None]:
    report = verify(settings)
    assert not report.ok
    assert report.first is not None
    return report.first.kind, report.first.seq


def test_a_clean_chain_verifies_with_its_checkpoints(chain: Settings) -> None:
    report = verify(chain)
    assert report.ok, report.problems
    assert (report.entries, report.head_seq) == (ENTRIES, ENTRIES)
    assert report.checkpoints == report.checkpoints_verified == ENTRIES // EVERY
    first, second = _entry(chain, 1), _entry(chain, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.entry_hash
    assert compute_hash(second) == second.entry_hash
    names = checkpoint_store(chain).names()
    assert names == sorted(checkpoint_name(s) for s in (5, 10))


def test_sqlite_refuses_updates_and_deletes_of_entries(chain: Settings) -> None:
    with get_engine(chain.sqlalchemy_url).connect() as connection:
        for statement in (
            "UPDATE audit_entry SET result = 'x' WHERE seq = 3",
            "DELETE FROM audit_entry WHERE seq = 3",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()


def test_a_changed_entry_is_named(chain: Settings) -> None:
    _sqlite(chain).execute("UPDATE audit_entry SET result = 'denied' WHERE seq = 5")
    assert _first(chain) == ("changed", 5)


def test_a_changed_entry_with_its_hash_recomputed_is_named(chain: Settings) -> None:
    entry = _entry(chain, 5)
    entry.actor = "someone-else"
    _sqlite(chain).execute(
        "UPDATE audit_entry SET actor = ?, entry_hash = ? WHERE seq = 5",
        (entry.actor, compute_hash(entry)),
    )
    assert _first(chain) == ("changed", 5)


def test_a_removed_entry_is_named(chain: Settings) -> None:
    connection = _sqlite(chain)
    connection.execute("DELETE FROM audit_object WHERE seq = 5")
    connection.execute("DELETE FROM audit_entry WHERE seq = 5")
    assert _first(chain) == ("removed", 5)


def test_a_removed_entry_is_named_even_when_the_rest_was_renumbered(chain: Settings) -> None:
    connection = _sqlite(chain)
    connection.execute("DELETE FROM audit_entry WHERE seq = 5")
    for seq in range(6, ENTRIES + 1):
        connection.execute("UPDATE audit_entry SET seq = ? WHERE seq = ?", (seq - 1, seq))
    connection.execute("UPDATE audit_head SET seq = ?", (ENTRIES - 1,))
    kind, seq = _first(chain)
    assert (kind, seq) == ("removed", 5)
    assert "renumbered" in verify(chain).problems[0].message


def test_entries_removed_from_the_end_are_named(chain: Settings) -> None:
    _sqlite(chain).execute("DELETE FROM audit_entry WHERE seq > 10")
    assert _first(chain) == ("removed", 11)


def test_reordered_entries_are_named(chain: Settings) -> None:
    connection = _sqlite(chain)
    connection.execute("UPDATE audit_entry SET seq = -5 WHERE seq = 5")
    connection.execute("UPDATE audit_entry SET seq = 5 WHERE seq = 6")
    connection.execute("UPDATE audit_entry SET seq = 6 WHERE seq = -5")
    assert _first(chain) == ("reordered", 5)


def _make_room_at(connection: sqlite3.Connection, seq: int) -> None:
    for moved in range(ENTRIES, seq - 1, -1):
        connection.execute("UPDATE audit_entry SET seq = ? WHERE seq = ?", (moved + 1, moved))


def test_an_inserted_entry_is_named(chain: Settings) -> None:
    before = _entry(chain, 4)
    forged = AuditEntry(
        seq=5,
        at=before.at,
        actor="tanaka",
        role="verifier",
        action="record.correct",
        purpose=None,
        object_ids=["doc9999"],
        result="ok",
        detail=None,
        prev_hash=before.entry_hash,
    )
    forged.entry_hash = compute_hash(forged)  # a well-forged entry that links to entry 4
    connection = _sqlite(chain)
    _make_room_at(connection, 5)
    connection.execute(
        "INSERT INTO audit_entry (seq, at, actor, role, action, purpose, object_ids, result, "
        "detail, prev_hash, entry_hash) VALUES (5, ?, 'tanaka', 'verifier', 'record.correct', "
        "NULL, '[\"doc9999\"]', 'ok', NULL, ?, ?)",
        (before.at.isoformat(sep=" "), forged.prev_hash, forged.entry_hash),
    )
    assert _first(chain) == ("inserted", 5)


def test_a_clumsily_inserted_entry_is_named(chain: Settings) -> None:
    connection = _sqlite(chain)
    _make_room_at(connection, 5)
    connection.execute(
        "INSERT INTO audit_entry (seq, at, actor, role, action, purpose, object_ids, result, "
        "detail, prev_hash, entry_hash) VALUES (5, '2026-01-01 00:00:00', 'tanaka', 'x', "
        "'login', NULL, '[]', 'ok', NULL, ?, ?)",
        ("f" * 64, "e" * 64),
    )
    assert _first(chain) == ("inserted", 5)


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoints(chain: Settings) -> None:
    """Whoever can write the table can recompute every hash after a change; the checkpoint
    signed with the key held apart still names where the rewrite lies."""
    connection = _sqlite(chain)
    prev = _entry(chain, 2).entry_hash
    for seq in range(3, ENTRIES + 1):
        entry = _entry(chain, seq)
        entry.prev_hash = prev
        if seq == 3:
            entry.result = "denied"
        entry.entry_hash = compute_hash(entry)
        connection.execute(
            "UPDATE audit_entry SET result = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
            (entry.result, entry.prev_hash, entry.entry_hash, seq),
        )
        prev = entry.entry_hash
    connection.execute("UPDATE audit_head SET entry_hash = ?", (prev,))
    connection.execute("UPDATE audit_checkpoint SET head_hash = 'x'")  # even this record
    report = verify(chain)
    assert report.first is not None
    assert (report.first.kind, report.first.seq) == ("checkpoint_mismatch", 5)
    assert "lies in 1–5" in report.first.message
    assert {p.kind for p in report.problems} == {"checkpoint_mismatch", "checkpoint_altered"}


def test_an_altered_checkpoint_is_named(chain: Settings) -> None:
    path = chain.keys_dir / "audit-checkpoints" / checkpoint_name(10)
    raw = json.loads(path.read_bytes())
    raw["head_hash"] = _entry(chain, 11).entry_hash
    raw["seq"] = 11  # moved forward, as if the last entry had been there at signing
    path.chmod(0o600)
    path.write_text(json.dumps(raw))
    assert _first(chain) == ("checkpoint_altered", 11)
    path.unlink()
    assert _first(chain) == ("checkpoint_missing", 10)


def test_a_checkpoint_signed_with_another_key_is_not_trusted(chain: Settings) -> None:
    other = Settings(data_dir=chain.data_dir, audit_key=base64.b64encode(b"k" * 32).decode())
    report = verify(other)
    assert {p.kind for p in report.problems} == {"checkpoint_unverifiable"}


def test_checkpoints_come_every_n_entries_or_on_demand(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _fill(settings, 3)
    assert write_checkpoint(settings) is None  # not due
    made = write_checkpoint(settings, force=True)
    assert made is not None and made.seq == 3
    assert write_checkpoint(settings, force=True) is None  # the head is already signed
    assert Checkpoint.from_bytes(checkpoint_store(settings).get(checkpoint_name(3))) == made
    path = settings.keys_dir / "audit-checkpoints" / checkpoint_name(3)
    assert path.stat().st_mode & 0o777 == 0o400


def test_concurrent_appends_stay_one_chain(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _append_concurrently(settings)
    report = verify(settings)
    assert report.ok, report.problems
    assert report.entries == 4 * 10


def _append_concurrently(settings: Settings, threads: int = 4, each: int = 10) -> None:
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for step in range(each):
                with session_scope(settings.sqlalchemy_url) as session:
                    append(
                        session,
                        Actor(f"worker{number}", "service"),
                        "page.read",
                        [f"page{number}-{step}"],
                    )
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not errors, errors


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (1240, 1754), 255).save(out, format="PNG", dpi=(150, 150))
    return out.getvalue()


def test_search_by_person_record_action_and_time(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(
            session, vault_for(settings), [Arrival("scan.png", _png())], "cli", actor=CLERK
        )
    _fill(settings, 4)
    with session_scope(settings.sqlalchemy_url) as session:
        receipt = session.execute(text("SELECT receipt_number FROM document")).scalar_one()
        intake = search(session, record=receipt)
        assert [(e.action, e.actor, e.role) for e in intake] == [
            ("intake.file", "tanaka", "scanning_clerk")
        ]
        assert result.batch_id in intake[0].object_ids
        assert [e.action for e in search(session, person="tanaka")] == [
            "intake.batch",
            "intake.file",
        ]
        assert len(search(session, action="intake")) == 2
        assert len(search(session, action="record.read")) == 4
        assert [e.object_ids for e in search(session, record="doc0002")] == [["doc0002"]]
        third = session.get_one(AuditEntry, 4)
        later = search(session, since=third.at)
        assert [e.seq for e in later] == [4, 5, 6]
        assert [e.seq for e in search(session, until=third.at)] == [1, 2, 3]
        assert len(search(session, limit=2)) == 2


def test_the_quarterly_review_report(chain: Settings) -> None:
    with session_scope(chain.sqlalchemy_url) as session:
        append(session, Actor("unknown", "-"), "login", result="denied:no_such_account")
        append(
            session,
            Actor("sato", "records_manager"),
            "original.open",
            ["doc0001"],
            purpose="disclosure request, case 2026-014",
            result="ok",
        )
        append(session, Actor("admin", "security_admin"), "user.add", ["p1"], result="ok")
        now = session.get_one(AuditEntry, ENTRIES + 1).at
    start, end = quarter_bounds(f"{now.year}Q{(now.month - 1) // 3 + 1}")
    assert quarter_bounds("2026Q4")[0].isoformat() == "2026-10-01T00:00:00+09:00"
    assert quarter_bounds("2026Q4")[1].isoformat() == "2027-01-01T00:00:00+09:00"
    with session_scope(chain.sqlalchemy_url) as session:
        report = review_report(chain, session, start, end)
    assert report["entries"] == ENTRIES + 3 and report["chain"]["ok"]
    assert report["by_action"]["record.read"] == ENTRIES
    assert report["by_person"]["sato"] == {"original.open": 1}
    assert [r["purpose"] for r in report["originals_opened"]] == [
        "disclosure request, case 2026-014"
    ]
    assert [r["result"] for r in report["sign_in_failures"]] == ["denied:no_such_account"]
    assert [r["action"] for r in report["account_changes"]] == ["user.add"]
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    sections = {row["section"] for row in rows}
    assert {
        "period",
        "chain",
        "by_action",
        "by_person",
        "originals_opened",
        "sign_in_failures",
        "account_changes",
    } <= sections
    chain_row = next(row for row in rows if row["section"] == "chain")
    assert chain_row["result"] == "ok"


def test_purpose_and_detail_never_carry_a_number(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with session_scope(settings.sqlalchemy_url) as session:
        entry = append(
            session,
            Actor("sato", "records_manager"),
            "original.open",
            ["d"],
            purpose="asked by 123456789012 about 1234-567890",
            detail={"note": "0312345678"},
        )
    assert "123456789012" not in (entry.purpose or "")
    assert "1234-567890" not in (entry.purpose or "")
    assert entry.detail == {"note": "＊＊＊"}
    assert verify(settings).ok


# --- PostgreSQL and S3 --------------------------------------------------------------------


@pytest.fixture
def pg_chain(tmp_path: Path, postgres_url: str) -> Iterator[Settings]:
    settings = _settings(tmp_path, database_url=postgres_url)
    _fill(settings)
    yield settings
    get_engine(postgres_url).dispose()


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.services
def test_postgresql_refuses_update_delete_and_truncate(pg_chain: Settings) -> None:
    with psycopg.connect(_psycopg_dsn(pg_chain.sqlalchemy_url), autocommit=True) as connection:
        for statement in (
            "UPDATE audit_entry SET result = 'denied' WHERE seq = 5",
            "DELETE FROM audit_entry WHERE seq = 5",
            "TRUNCATE audit_entry CASCADE",
            "UPDATE audit_object SET object_id = 'x'",
            "DELETE FROM audit_checkpoint",
            "DELETE FROM audit_head",
            "UPDATE audit_head SET seq = 3",
            f"UPDATE audit_head SET seq = {ENTRIES + 1}, entry_hash = '{'a' * 64}'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
    assert verify(pg_chain).ok


@pytest.mark.services
def test_postgresql_keeps_one_chain_under_concurrent_appends(pg_chain: Settings) -> None:
    _append_concurrently(pg_chain, threads=6, each=10)
    report = verify(pg_chain)
    assert report.ok, report.problems
    assert report.entries == ENTRIES + 60


@pytest.mark.services
def test_the_application_role_may_only_read_and_append(tmp_path: Path, postgres_url: str) -> None:
    role = f"kura_app_{tmp_path.name[-8:].lower().replace('-', '_')}"
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(_psycopg_dsn(postgres_url), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
    upgrade(postgres_url)
    with psycopg.connect(_psycopg_dsn(postgres_url), autocommit=True) as admin:
        admin.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')  # too much
    grant_app_role(postgres_url, role)  # takes back what the role must not do
    app_url = postgres_url.replace("//postgres@", f"//{role}@")
    app = Settings(data_dir=tmp_path / "data", database_url=app_url)
    with session_scope(app_url) as session:
        session.add(Batch(channel="cli"))  # the records are the role's to write
        append(session, CLERK, "queue.list", ["doc1"])
    with psycopg.connect(_psycopg_dsn(app_url), autocommit=True) as connection:
        for statement in (
            "UPDATE audit_entry SET result = 'x'",
            "DELETE FROM audit_entry",
            "TRUNCATE audit_entry",
            "CREATE TABLE intruder (x int)",
            "DROP TABLE batch",
            "UPDATE alembic_version SET version_num = 'x'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
    assert verify(app).ok
    get_engine(app_url).dispose()
    with psycopg.connect(_psycopg_dsn(postgres_url), autocommit=True) as admin:
        admin.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')


@pytest.mark.services
def test_checkpoints_on_s3_are_under_object_lock(tmp_path: Path, s3: S3Bucket) -> None:
    settings = _settings(
        tmp_path,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_bucket=s3.bucket,
        s3_region=s3.region,
        audit_lock_days=1,
    )
    _fill(settings)
    store = checkpoint_store(settings)
    assert isinstance(store, S3Checkpoints) and store.object_lock
    assert store.bucket == f"{s3.bucket}-audit"
    assert store.names() == [checkpoint_name(10), checkpoint_name(5)]
    assert verify(settings).ok
    client = s3.client()
    retention = client.get_object_retention(store.bucket, checkpoint_name(5))
    assert retention is not None and retention.mode == GOVERNANCE
    version = client.stat_object(store.bucket, checkpoint_name(5)).version_id
    with pytest.raises(S3Error):
        client.remove_object(store.bucket, checkpoint_name(5), version_id=version)
    assert store.put(checkpoint_name(5), b"{}") is False  # never overwritten by Kura
    # someone with the bucket's keys writes a new version over it: verify sees through it
    raw = json.loads(store.get(checkpoint_name(5)))
    raw["head_hash"] = "0" * 64
    client.put_object(
        store.bucket,
        checkpoint_name(5),
        io.BytesIO(json.dumps(raw).encode()),
        len(json.dumps(raw).encode()),
    )
    assert _first(settings) == ("checkpoint_altered", 5)


def test_what_verify_reads_is_what_append_wrote(chain: Settings) -> None:
    with session_scope(chain.sqlalchemy_url) as session:
        for entry in session.scalars(select(AuditEntry)):
            assert compute_hash(entry) == entry.entry_hash
