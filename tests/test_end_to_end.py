"""Scans through `kura ingest` to the verification queue: on the embedded default, and on
the real services (Celery worker on Redis, PostgreSQL, S3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from kura.bench.servers import S3Bucket, kura_env
from kura.bench.synth.corpus import make_sample_scans
from storage.audit import AuditEntry
from storage.audit_verify import verify
from storage.audit_words import open_words
from storage.db import session_scope
from storage.models import Document, SourceFile, StoredObject
from storage.queries import document_fields
from storage.runtime import vault_for
from tests.helpers import CeleryWorker, run_kura, services_env, settings_from, sign_in, truth_of

SAMPLES = 3
PERSON_IN_A_FILE_NAME = "山田太郎"


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("scans")
    return make_sample_scans(folder, SAMPLES, seed=20261122)


@pytest.fixture(scope="module")
def intake(scans: list[Path]) -> list[str]:
    """What a clerk feeds in: the scans and a file that is not a scan, named after a person."""
    notes = scans[0].parent / f"{PERSON_IN_A_FILE_NAME}_メモ.txt"
    notes.write_text("not a scan")
    return [str(path) for path in [*scans, notes]]


def _check_stored(env: dict[str, str], scans: list[Path]) -> list[bytes]:
    """Each scan became a document whose fields match the truth (accepted ones exactly);
    returns the sealed bytes of every stored original as the store holds them."""
    settings = settings_from(env)
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        files = {f.position: f for f in session.scalars(select(SourceFile))}
        assert not any(PERSON_IN_A_FILE_NAME in f.filename for f in files.values())
        rejected = files.pop(len(scans))
        assert rejected.status == "rejected"
        assert rejected.reject_reason == "not a PDF, TIFF, JPEG or PNG file"
        right = total = 0
        for position, scan in enumerate(scans):
            truth = truth_of(scan)
            source = files[position]
            assert source.status == "done"
            document = session.scalars(
                select(Document).where(Document.source_file_id == source.id)
            ).one()
            assert document.form_id == truth["form"]
            assert document.status in ("review", "ready")
            values = document_fields(session, vault, document.receipt_number)
            for field in document.fields:
                total += 1
                right += values[field.name] == truth["fields"][field.name]
                if field.status == "accepted":
                    assert values[field.name] == truth["fields"][field.name], field.name
        assert right / total >= 0.8
        originals = [session.get_one(StoredObject, f.object_id) for f in files.values()]
        assert [vault.get_object(o) for o in originals] == [s.read_bytes() for s in scans]
        return [vault.store.get(o.id) for o in originals]


def _assert_ciphertext(sealed: list[bytes], scans: list[Path]) -> None:
    for blob, scan in zip(sealed, scans, strict=True):
        plain = scan.read_bytes()
        assert blob != plain
        assert plain[:64] not in blob and plain[-64:] not in blob
        name = truth_of(scan)["fields"]["name"]
        assert name.encode() not in blob


def _assert_queue_is_masked(env: dict[str, str], scans: list[Path]) -> None:
    listing = run_kura(env, "queue")
    as_json = json.loads(run_kura(env, "queue", "--json"))
    assert len(as_json) == len(scans)
    for line in as_json:  # why each waits, by reason code only: a detail may be a character
        assert sum(line["why"].values()) >= line["fields_review"]
        assert all(":" not in code for code in line["why"])
    for scan in scans:
        fields = truth_of(scan)["fields"]
        for secret in (fields.get("my_number"), fields["name"]):
            if not secret:
                continue
            assert secret not in listing
            assert secret not in json.dumps(as_json, ensure_ascii=False)


def test_embedded_default(tmp_path: Path, scans: list[Path], intake: list[str]) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    sign_in(env)  # a scanning clerk who is also the records manager
    output = run_kura(env, "ingest", *intake)
    assert "quarantined 1" in output and f"documents {SAMPLES}" in output
    assert f"{PERSON_IN_A_FILE_NAME}_メモ.txt" in output  # the clerk sees where it went
    sealed = _check_stored(env, scans)
    _assert_ciphertext(sealed, scans)
    _assert_queue_is_masked(env, scans)  # a new process: the data survived the restart
    receipt = json.loads(run_kura(env, "queue", "--json"))[0]["receipt_number"]
    out = tmp_path / "original.bin"
    run_kura(env, "original", receipt, "--out", str(out), "--reason", "test: compare with scan")
    assert out.read_bytes() in [s.read_bytes() for s in scans]
    _assert_audited(env, SAMPLES)


def _assert_audited(env: dict[str, str], documents: int) -> None:
    """Every step is in an intact audit chain, under the person or the service identity."""
    settings = settings_from(env)
    with session_scope(settings.sqlalchemy_url) as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        purposes = {e.seq: open_words(session, vault_for(settings), e.purpose) for e in entries}
    by_action: dict[str, list[AuditEntry]] = {}
    for entry in entries:
        by_action.setdefault(entry.action, []).append(entry)
    assert [(e.actor, e.result) for e in by_action["login"]] == [("clerk", "ok")]
    assert [(e.actor, e.role) for e in by_action["intake.batch"]] == [("clerk", "scanning_clerk")]
    assert sorted(e.result for e in by_action["intake.file"]) == [
        *["accepted"] * documents,
        "quarantined",
    ]
    assert {(e.actor, e.result) for e in by_action["page.read"]} == {("svc-worker", "done")}
    assert len(by_action["document.assemble"]) == documents
    assert len(by_action["queue.list"]) == 3
    (opened,) = by_action["original.open"]
    assert opened.purpose is not None and opened.purpose.startswith("sealed:")
    assert (opened.actor, opened.role, purposes[opened.seq], opened.result) == (
        "clerk",
        "records_manager",
        "test: compare with scan",
        "ok",
    )
    assert verify(settings).ok


@pytest.mark.services
def test_celery_worker_on_redis_postgres_and_s3(
    tmp_path: Path,
    scans: list[Path],
    intake: list[str],
    redis_url: str,
    postgres_url: str,
    s3: S3Bucket,
) -> None:
    env = services_env(tmp_path / "data", redis_url, postgres_url, s3)
    run_kura(env, "db", "upgrade")
    sign_in(env)
    with CeleryWorker(env) as worker:
        output = run_kura(env, "ingest", *intake, timeout=600)
    worker_log = worker.log
    assert f"documents {SAMPLES}" in output, output + worker_log
    sealed = _check_stored(env, scans)
    _assert_ciphertext(sealed, scans)
    client = s3.client()
    assert client.get_object_lock_config(s3.bucket) is not None
    for item in client.list_objects(s3.bucket, recursive=True):
        assert len(item.object_name) == 32 and item.object_name.isalnum()
    _assert_queue_is_masked(env, scans)
    _assert_no_personal_values_in_redis(redis_url, scans, worker_log)


def _assert_no_personal_values_in_redis(redis_url: str, scans: list[Path], log: str) -> None:
    client = redis.Redis.from_url(redis_url)
    dump = b"".join(key + repr(client.dump(key)).encode() for key in client.scan_iter(count=1000))
    for scan in scans:
        fields = truth_of(scan)["fields"]
        for secret in (fields.get("my_number"), fields["name"], fields.get("address")):
            if secret:
                assert secret.encode() not in dump
                assert secret not in log
