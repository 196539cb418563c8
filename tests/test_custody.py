"""Custody: key rotation and retirement, blind indexes, retention under S3 Object Lock, legal
hold, and disposal by two people with its certificate."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path

import pytest
from minio.error import S3Error
from sqlalchemy import select
from sqlalchemy.orm import Session

from kura.bench.servers import KURA, S3Bucket, kura_env
from pipeline.render import certificate_pdf
from schemas.normalise import canonical_json
from schemas.settings import Settings
from storage.accounts import add_person
from storage.audit import Actor, AuditEntry
from storage.blind_index import (
    BlindIndexer,
    find_documents,
    load_indexer,
    normalise_for_index,
    reindex_all,
)
from storage.crypto import DecryptionError, Kek, unwrap, wrap
from storage.custody import CustodyError, FourEyesError, RetentionError
from storage.db import get_engine, upgrade
from storage.disposal import ERASE_METHOD, approve_disposal, request_disposal
from storage.keys import load_keyring, new_embedded_kek, retire_key, rotate_keys
from storage.models import (
    BlindIndex,
    Document,
    FieldValue,
    Page,
    SecondFactor,
    SourceFile,
    StoredObject,
)
from storage.objects import Lock, ObjectLocked
from storage.retention import (
    RetentionPolicy,
    delete_object,
    parse_retention,
    release_hold,
    set_hold,
)
from storage.runtime import vault_for
from storage.vault import KeyUnavailable, Vault
from tests.custody_data import FORM, PEOPLE, file_documents
from tests.helpers import login as sign_in_as

fresh_vault = vault_for.__wrapped__  # type: ignore[attr-defined]
"""vault_for without its cache: the keys on disk change in these tests."""


def _settings(tmp_path: Path, **extra: str) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", **extra)  # type: ignore[arg-type]
    upgrade(settings.sqlalchemy_url)
    return settings


def _session(settings: Settings) -> Session:
    return Session(get_engine(settings.sqlalchemy_url), expire_on_commit=False)


def _original(session: Session, document: Document) -> StoredObject:
    source = session.get_one(SourceFile, document.source_file_id)
    return session.get_one(StoredObject, source.object_id)


def _values(session: Session, vault: Vault, document: Document) -> dict[str, str]:
    fields = session.scalars(select(FieldValue).where(FieldValue.document_id == document.id))
    return {
        f.name: vault.open_value(document, f"field:{f.name}:value", f.value_sealed) for f in fields
    }


# --- Keys -----------------------------------------------------------------------------------


def test_rotation_rewraps_every_key_and_keeps_everything_readable(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    vault = fresh_vault(settings)
    with _session(settings) as session:
        filed = file_documents(session, settings, vault, PEOPLE)
        session.commit()
        objects = session.scalars(select(StoredObject)).all()
        sealed_before = {o.id: vault.store.get(o.id) for o in objects}
        wrapped_before = {o.id: o.wrapped_key for o in objects}
    old = vault.kek

    keyring = new_embedded_kek(settings)
    assert keyring.current.id != old.id and [k.id for k in keyring.previous] == [old.id]
    with _session(settings) as session:
        report = rotate_keys(session, keyring)
        session.commit()
    assert report.objects == len(objects) and report.documents == len(PEOPLE)
    assert report.from_keks == {old.id: len(objects) + len(PEOPLE)}

    rotated = fresh_vault(settings)
    with _session(settings) as session:
        for stored in session.scalars(select(StoredObject)):
            assert stored.kek_id == keyring.current.id
            assert stored.wrapped_key != wrapped_before[stored.id]
            # the data was not re-encrypted: the store holds the very same bytes
            assert rotated.store.get(stored.id) == sealed_before[stored.id]
        for document, scan in filed:
            again = session.get_one(Document, document.id)
            assert again.kek_id == keyring.current.id
            assert rotated.get_object(_original(session, again)) == scan
            assert _values(session, rotated, again)["my_number"] in {p["my_number"] for p in PEOPLE}

        # unreadable with a wrong key: the old KEK alone, or another key under the same id
        only_old = Vault(rotated.store, old)
        wrong = Vault(rotated.store, Kek(keyring.current.id, os.urandom(32)))
        document = session.get_one(Document, filed[0][0].id)
        for bad in (only_old, wrong):
            with pytest.raises(DecryptionError):
                bad.get_object(_original(session, document))
            with pytest.raises(DecryptionError):
                _values(session, bad, document)
        with pytest.raises(KeyUnavailable):
            only_old.get_object(_original(session, document))

    # retire the old key: its file is destroyed, and everything still opens without it
    with _session(settings) as session:
        with pytest.raises(CustodyError, match="current key"):
            retire_key(session, settings, keyring, keyring.current.id, "admin")
        assert retire_key(session, settings, keyring, old.id, "admin") == ""
        session.commit()
    assert not list((settings.keys_dir / "previous").glob("*.b64"))
    after = load_keyring(settings)
    assert after.previous == ()
    with _session(settings) as session:
        document = session.get_one(Document, filed[1][0].id)
        assert fresh_vault(settings).get_object(_original(session, document)) == filed[1][1]


def test_configured_keys_rotate_and_a_key_in_use_cannot_retire(tmp_path: Path) -> None:
    old, new = Kek.generate(), Kek.generate()
    index = base64_key()
    before = _settings(tmp_path, kek=old.to_base64(), index_key=index)
    with _session(before) as session:
        filed = file_documents(session, before, fresh_vault(before), PEOPLE[:2])
        session.commit()

    during = Settings(
        data_dir=before.data_dir, kek=new.to_base64(), kek_previous=old.to_base64(), index_key=index
    )
    keyring = load_keyring(during)
    vault = fresh_vault(during)
    with _session(during) as session:
        # readable before the rotation, through the previous key
        assert vault.get_object(_original(session, filed[0][0])) == filed[0][1]
        with pytest.raises(CustodyError, match="still wraps"):
            retire_key(session, during, keyring, old.id, "admin")
        report = rotate_keys(session, keyring)
        message = retire_key(session, during, keyring, old.id, "admin")
        session.commit()
    assert report.objects == 4 and report.documents == 2
    assert "KURA_KEK_PREVIOUS" in message

    after = Settings(data_dir=before.data_dir, kek=new.to_base64(), index_key=index)
    with _session(after) as session:
        for document, scan in filed:
            assert fresh_vault(after).get_object(_original(session, document)) == scan


def test_rotation_rewraps_the_second_factor_secrets_so_the_old_key_can_retire(
    tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    vault = fresh_vault(settings)
    with _session(settings) as session:
        person = add_person(session, Actor("test-setup", "-"), "rima", ["records_manager"],
                            password("rima"))
        session.add(SecondFactor(person_id=person.id, kek_id=vault.kek.id,
                                 wrapped_secret=wrap(vault.kek, b"JBSWY3DPEHPK3PXP", person.id)))
        session.commit()
        person_id = person.id
    keyring = new_embedded_kek(settings)
    with _session(settings) as session:
        assert rotate_keys(session, keyring).from_keks[vault.kek.id] >= 1
        retire_key(session, settings, keyring, vault.kek.id, "admin")
        session.commit()
    with _session(settings) as session:
        factor = session.get_one(SecondFactor, person_id)
        assert factor.kek_id == keyring.current.id
        assert unwrap(load_keyring(settings).current, factor.wrapped_secret,
                      person_id) == b"JBSWY3DPEHPK3PXP"


def base64_key() -> str:
    return Kek.generate().to_base64()


# --- Blind indexes ----------------------------------------------------------------------------


def test_blind_indexes_find_each_field_and_never_equal_a_plain_hash(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    vault = fresh_vault(settings)
    indexer = load_indexer(settings)
    with _session(settings) as session:
        filed = file_documents(session, settings, vault, PEOPLE)
        session.commit()
        yamada, suzuki = filed[0][0].receipt_number, filed[1][0].receipt_number

        def found(field: str, value: str) -> list[str]:
            return [d.receipt_number for d in find_documents(session, indexer, field, value)]

        # each of the four fields, as people type them
        assert found("basic_pension_number", "1234-567890") == [yamada]
        assert found("基礎年金番号", "１２３４５６７８９０") == [yamada]
        assert found("my_number", "9876 5432 1098") == [suzuki]
        assert found("name_kana", "やまだ たろう") == [yamada]
        assert found("kana", "ｽｽﾞｷﾊﾅｺ") == [suzuki]
        assert found("birth_date", "1965-01-02") == [yamada]
        assert found("birth_date", "昭和40年1月2日") == [yamada]
        assert found("birth_date", "H2.12.31") == [suzuki]
        assert found("birth_date", "7021231") == [suzuki]
        # exact match only
        assert found("my_number", "123456789019") == []
        assert found("name_kana", "ヤマダ") == []
        assert found("birth_date", "1965-01-03") == []
        with pytest.raises(CustodyError, match="no blind index"):
            found("address", "仙台市")

        rows = session.scalars(select(BlindIndex)).all()
        assert len(rows) == 4 * len(PEOPLE)
        digests = {r.digest for r in rows}
        for person in PEOPLE:
            for field in ("basic_pension_number", "my_number", "name_kana", "birth_date"):
                value = person[field]
                normalised = normalise_for_index(field, value)
                plain = {hashlib.sha256(v.encode()).hexdigest() for v in (value, normalised)}
                plain |= {
                    hmac.new(vault.kek.key, v.encode(), hashlib.sha256).hexdigest()
                    for v in (value, normalised)
                }
                assert not plain & digests
                assert value not in " ".join(digests)
        # another key gives other digests: the index says nothing without its key
        other = BlindIndexer(os.urandom(32))
        assert other.digest("my_number", PEOPLE[0]["my_number"]) not in digests
    assert indexer.key != vault.kek.key


def test_a_new_index_key_reindexes_every_field_and_every_content_digest(tmp_path: Path) -> None:
    old_key, new_key = (Kek.generate().to_base64() for _ in range(2))
    settings = _settings(tmp_path, index_key=old_key)
    with _session(settings) as session:
        filed = file_documents(session, settings, fresh_vault(settings), PEOPLE)
        session.commit()
    yamada = filed[0][0]

    moved = settings.model_copy(update={"index_key": new_key})
    indexer, vault = load_indexer(moved), fresh_vault(moved)
    with _session(moved) as session:
        # before the reindex the new key finds nothing: the digests are the old key's
        assert find_documents(session, indexer, "basic_pension_number", "1234567890") == []
        assert reindex_all(session, vault, indexer) == 4 * len(PEOPLE)
        session.commit()
        assert [d.id for d in find_documents(
            session, indexer, "basic_pension_number", "1234567890")] == [yamada.id]
        assert find_documents(session, load_indexer(settings), "basic_pension_number",
                              "1234567890") == []
        assert {r.key_id for r in session.scalars(select(BlindIndex))} == {indexer.id}
        for document, scan in filed:
            stored = _original(session, document)
            keyed = indexer.content_digest(hashlib.sha256(scan).hexdigest())
            assert stored.sha256 == keyed
            source = session.get_one(SourceFile, document.source_file_id)
            assert source.sha256 == keyed


def test_the_index_key_may_not_be_the_kek(tmp_path: Path) -> None:
    kek = Kek.generate().to_base64()
    with pytest.raises(ValueError, match="must not be a key-encryption key"):
        load_indexer(Settings(data_dir=tmp_path, kek=kek, index_key=kek))


# --- Retention, legal hold ----------------------------------------------------------------------


def test_retention_setting_and_intake_lock() -> None:
    periods = parse_retention("qualification=10y, exemption=30d, *=keep")
    assert str(periods["qualification"]) == "10y" and periods["*"] is None
    policy = RetentionPolicy("COMPLIANCE", periods)
    day = dt.date(2024, 2, 29)
    assert policy.retain_until("qualification", day) == dt.date(2034, 2, 28)
    assert policy.retain_until("claim", day) is None
    lock = policy.intake_lock(dt.date.today())
    assert lock.mode == "COMPLIANCE" and lock.legal_hold
    assert lock.retain_until == dt.datetime.combine(
        dt.date.today() + dt.timedelta(days=30), dt.time(0), dt.UTC
    )
    assert RetentionPolicy().intake_lock() == Lock("GOVERNANCE", None, True)
    with pytest.raises(ValueError):
        parse_retention("qualification=ten years")


def _s3_settings(tmp_path: Path, s3: S3Bucket, retention: str) -> Settings:
    return _settings(
        tmp_path,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_bucket=s3.bucket,
        s3_region=s3.region,
        retention=retention,
        object_lock_mode="GOVERNANCE",
    )


def _versions(s3: S3Bucket, object_id: str) -> list[str]:
    return [
        v.version_id
        for v in s3.client().list_objects(s3.bucket, prefix=object_id, include_version=True)
        if v.object_name == object_id
    ]


@pytest.mark.services
def test_a_retained_original_cannot_be_deleted_before_its_end(tmp_path: Path, s3: S3Bucket) -> None:
    settings = _s3_settings(tmp_path, s3, "qualification=1d")
    vault = fresh_vault(settings)
    with _session(settings) as session:
        filed = file_documents(session, settings, vault, PEOPLE[:1])
        session.commit()
        document = filed[0][0]
        original = _original(session, document)
        tomorrow = dt.date.today() + dt.timedelta(days=1)
        assert document.retain_until == tomorrow
        assert original.retain_until is not None and not original.legal_hold

        client = s3.client()
        retention = client.get_object_retention(s3.bucket, original.id)
        assert retention.mode == "GOVERNANCE"
        assert retention.retain_until_date.date() == tomorrow
        assert not vault.store.get_lock(original.id).legal_hold  # on at intake, off now
        # the store itself refuses, version by version, even to its admin key
        for version in _versions(s3, original.id):
            with pytest.raises(S3Error) as refused:
                client.remove_object(s3.bucket, original.id, version_id=version)
            assert refused.value.code == "AccessDenied"
        with pytest.raises(ObjectLocked):
            vault.store.delete(original.id)
        # and Kura refuses first
        with pytest.raises(RetentionError, match="retention until"):
            delete_object(session, vault, original)
        with pytest.raises(RetentionError, match="under retention until"):
            request_disposal(session, [document.receipt_number], "end of period", "records")
        assert vault.get_object(original) == filed[0][1]

    # a page image is not an original: written without a lock
    with _session(settings) as session:
        page = session.scalars(select(Page).where(Page.document_id == document.id)).one()
        assert page.image_object_id is not None
        assert vault.store.get_lock(page.image_object_id) == Lock("GOVERNANCE", None, False)


@pytest.mark.services
def test_legal_hold_blocks_deletion_until_released(tmp_path: Path, s3: S3Bucket) -> None:
    settings = _s3_settings(tmp_path, s3, "*=0d")  # retention over at once: only the hold
    vault = fresh_vault(settings)
    client = s3.client()
    with _session(settings) as session:
        filed = file_documents(session, settings, vault, PEOPLE[:1])
        document = filed[0][0]
        original = _original(session, document)
        assert not vault.store.get_lock(original.id).legal_hold
        with pytest.raises(CustodyError, match="needs a reason"):
            set_hold(session, vault, document, " ", "records")
        set_hold(session, vault, document, "case 2026-14 (appeal)", "records")
        session.commit()
        assert client.is_object_legal_hold_enabled(s3.bucket, original.id)
        assert original.legal_hold
        for version in _versions(s3, original.id):
            with pytest.raises(S3Error):
                client.remove_object(s3.bucket, original.id, version_id=version)
        with pytest.raises(RetentionError, match="legal hold"):
            delete_object(session, vault, original)
        with pytest.raises(RetentionError, match="legal hold"):
            request_disposal(session, [document.receipt_number], "no longer needed", "records")

        assert release_hold(session, vault, document, "appeal closed", "records") == 1
        session.commit()
        assert not vault.store.get_lock(original.id).legal_hold
        request = request_disposal(
            session, [document.receipt_number], "no longer needed", "records"
        )
        certificate = approve_disposal(session, vault, request.number, "admin")
        session.commit()
    assert all(o["store_removed"] for o in certificate["objects"])
    assert _versions(s3, original.id) == []


# --- Disposal ---------------------------------------------------------------------------------


def test_disposal_needs_two_people_and_leaves_a_matching_certificate(tmp_path: Path) -> None:
    settings = _settings(tmp_path)  # default policy: keep indefinitely (legal hold)
    vault = fresh_vault(settings)
    indexer = load_indexer(settings)
    with _session(settings) as session:
        filed = file_documents(session, settings, vault, PEOPLE)
        session.commit()
        target, scan = filed[0]
        pages = session.scalars(select(Page).where(Page.document_id == target.id)).all()
        objects = [_original(session, target)] + [
            session.get_one(StoredObject, p.image_object_id) for p in pages
        ]
        expected = {
            o.id: {
                "content_sha256": o.sha256,
                "sealed_sha256": hashlib.sha256(vault.store.get(o.id)).hexdigest(),
                "data_key_sha256": hashlib.sha256(o.wrapped_key).hexdigest(),
            }
            for o in objects
        }
        assert expected[objects[0].id]["content_sha256"] == vault.digest(scan)
        document_key = hashlib.sha256(target.wrapped_key).hexdigest()
        assert vault.store.get_lock(objects[0].id).legal_hold  # kept until a decision

        with pytest.raises(CustodyError, match="needs a reason"):
            request_disposal(session, [target.receipt_number], "  ", "records")
        request = request_disposal(
            session, [target.receipt_number], "retention decision 2026-3", "records"
        )
        session.commit()
        with pytest.raises(CustodyError, match="already in an open disposal request"):
            request_disposal(session, [target.receipt_number], "again", "records")
        with pytest.raises(FourEyesError):
            approve_disposal(session, vault, request.number, "records")
        session.rollback()
        certificate = approve_disposal(session, vault, request.number, "admin")
        session.commit()

        # the certificate: who, when, how, and checksums that match what was destroyed
        assert certificate["requested_by"] == "records"
        assert certificate["approved_by"] == "admin"
        assert certificate["method"] == ERASE_METHOD
        assert [d["receipt_number"] for d in certificate["documents"]] == [target.receipt_number]
        assert certificate["documents"][0]["data_key_sha256"] == document_key
        assert certificate["documents"][0]["field_values_destroyed"] == len(PEOPLE[0])
        assert certificate["documents"][0]["blind_indexes_removed"] == 4
        listed = {o["object_id"]: o for o in certificate["objects"]}
        assert set(listed) == set(expected)
        for object_id, sums in expected.items():
            assert {k: listed[object_id][k] for k in sums} == sums
            assert listed[object_id]["store_removed"]
        kept = session.get_one(type(request), request.id)
        assert kept.status == "done" and kept.decided_by == "admin"
        assert kept.certificate == canonical_json(certificate)
        assert hashlib.sha256(kept.certificate.encode()).hexdigest() == kept.certificate_sha256
        assert json.loads(kept.certificate) == certificate
        assert certificate_pdf(certificate, kept.certificate_sha256).startswith(b"%PDF")

        # the content is gone for good; the metadata says disposed
        disposed = session.get_one(Document, target.id)
        assert disposed.status == "disposed" and disposed.disposed_at is not None
        assert disposed.wrapped_key == b""
        assert not session.scalars(
            select(FieldValue).where(FieldValue.document_id == target.id)
        ).all()
        assert find_documents(session, indexer, "my_number", PEOPLE[0]["my_number"]) == []
        for stored in objects:
            again = session.get_one(StoredObject, stored.id)
            assert again.wrapped_key == b"" and again.destroyed_at is not None
            with pytest.raises(DecryptionError):
                vault.get_object(again)
            assert not list(settings.objects_dir.rglob(stored.id))
        with pytest.raises(DecryptionError):
            vault.seal_value(disposed, "field:name:value", "x")
        with pytest.raises(CustodyError, match="already disposed"):
            request_disposal(session, [target.receipt_number], "again", "records")
        # the others are untouched
        other, other_scan = filed[1]
        assert vault.get_object(_original(session, other)) == other_scan
        assert [
            d.receipt_number
            for d in find_documents(session, indexer, "my_number", PEOPLE[1]["my_number"])
        ] == [other.receipt_number]


@pytest.mark.services
def test_crypto_erase_when_the_store_still_keeps_the_bytes(tmp_path: Path, s3: S3Bucket) -> None:
    """Kura's period ended but the store's lock has not (e.g. a period shortened in the
    settings): the keys are destroyed, the ciphertext stays locked and unreadable."""
    settings = _s3_settings(tmp_path, s3, "qualification=1d")
    vault = fresh_vault(settings)
    with _session(settings) as session:
        document, _scan = file_documents(session, settings, vault, PEOPLE[1:2])[0]
        document.retain_until = dt.date.today() - dt.timedelta(days=1)
        original = _original(session, document)
        sealed = vault.store.get(original.id)
        request = request_disposal(session, [document.receipt_number], "period over", "rm")
        certificate = approve_disposal(session, vault, request.number, "admin")
        session.commit()
        line = next(o for o in certificate["objects"] if o["object_id"] == original.id)
        assert not line["store_removed"] and "kept by the store" in line["store"]
        assert line["sealed_sha256"] == hashlib.sha256(sealed).hexdigest()
        assert vault.store.get(original.id) == sealed  # still there, locked ...
        with pytest.raises(DecryptionError):  # ... and nobody can open it
            vault.get_object(session.get_one(StoredObject, original.id))


def test_a_file_split_into_documents_is_disposed_of_whole(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    vault = fresh_vault(settings)
    with _session(settings) as session:
        document, _ = file_documents(session, settings, vault, PEOPLE[:1])[0]
        source = session.get_one(SourceFile, document.source_file_id)
        from storage.intake import open_receipt

        sibling = open_receipt(session, vault, source, "cli")
        with pytest.raises(CustodyError, match="still being read"):
            request_disposal(session, [sibling.receipt_number], "r", "records")
        sibling.status = "ready"
        with pytest.raises(CustodyError, match="shares its original scan"):
            request_disposal(session, [document.receipt_number], "r", "records")
        request = request_disposal(
            session, [document.receipt_number, sibling.receipt_number], "r", "records"
        )
        assert len(request.items) == 2


# --- Through the real CLI, with people and the audit chain --------------------------------------


def _kura(env: dict[str, str], *args: str, stdin: str = "", code: int = 0) -> str:
    done = subprocess.run(
        [*KURA, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == code, f"kura {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def password(name: str) -> str:
    return f"Pw-{name[::-1]}-2026-kura"


def add_people(env: dict[str, str]) -> None:
    """admin (security administrator), records (records manager), backup (operator) and
    clerk (verifier)."""
    _kura(
        env,
        "users",
        "add",
        "admin",
        "--role",
        "security_admin",
        "--password-stdin",
        stdin=password("admin") + "\n",
    )
    login(env, "admin")
    for name, role in (
        ("records", "records_manager"),
        ("backup", "backup_operator"),
        ("clerk", "verifier"),
    ):
        _kura(
            env,
            "users",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            stdin=password(name) + "\n",
        )


def login(env: dict[str, str], name: str) -> None:
    """Signed in as `name`, with the TOTP code of the duties that need one (set up at the
    first sign-in)."""
    sign_in_as(env, name, password(name))


def test_custody_commands_run_as_people_and_are_audited(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = _settings(tmp_path)
    add_people(env)
    with _session(settings) as session:
        filed = file_documents(session, settings, fresh_vault(settings), PEOPLE)
        session.commit()
    receipts = [d.receipt_number for d, _ in filed]

    # keys: only the security administrator
    login(env, "records")
    assert "keys.manage" in _kura(env, "keys", "rotate", code=4)
    login(env, "admin")
    old = load_keyring(settings).current.id
    out = _kura(env, "keys", "rotate")
    assert "re-wrapped 6 object keys and 3 document keys" in out
    assert old in _kura(env, "keys", "list")
    _kura(env, "keys", "retire", old)

    # search: a record reader; prints receipt numbers, never values
    login(env, "clerk")
    found = json.loads(_kura(env, "find", "birth_date", "--stdin", "--json", stdin="S40.1.2\n"))
    assert [f["receipt_number"] for f in found] == [receipts[0]]

    # hold, disposal by two people
    login(env, "records")
    _kura(env, "hold", "set", receipts[1], "--reason", "case 7")
    assert "legal hold" in _kura(env, "dispose", "request", receipts[1], "--reason", "x", code=4)
    _kura(env, "hold", "release", receipts[1], "--reason", "case 7 closed")
    _kura(env, "dispose", "request", receipts[1], "--reason", "decision 2026-9")
    number = json.loads(_kura(env, "dispose", "list", "--json"))[0]["number"]
    assert "different person" in _kura(
        env, "dispose", "approve", number, "--out", str(tmp_path / "cert"), code=4
    )
    login(env, "admin")
    out = _kura(env, "dispose", "approve", number, "--out", str(tmp_path / "cert"))
    assert "data keys destroyed" in out
    certificate = tmp_path / "cert" / f"{number}.json"
    digest = hashlib.sha256(certificate.read_bytes()).hexdigest()
    assert digest in out
    assert (tmp_path / "cert" / f"{number}.pdf").exists()

    with _session(settings) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        actions = [(e.actor, e.action, e.result) for e in entries]
        assert ("admin", "keys.rotate", "ok") in actions
        assert ("admin", "keys.retire", "ok") in actions
        assert ("clerk", "record.search", "ok") in actions
        assert ("records", "hold.set", "ok") in actions
        assert ("records", "hold.release", "ok") in actions
        assert ("records", "disposal.request", "refused:RetentionError") in actions
        assert ("records", "disposal.request", "ok") in actions
        assert ("records", "disposal.approve", "refused:FourEyesError") in actions
        approval = next(e for e in entries if e.action == "disposal.approve" and e.result == "ok")
        assert approval.detail is not None
        assert approval.detail["certificate_sha256"] == digest
        dump = json.dumps(
            [(e.purpose, e.detail, e.object_ids) for e in entries], ensure_ascii=False
        )
        for person in PEOPLE:
            for field in ("my_number", "basic_pension_number", "name_kana"):
                assert person[field] not in dump
    assert FORM
