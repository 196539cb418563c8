"""`kura backup` then `kura restore` into an empty installation, end to end through the real
CLI, on the embedded default (SQLite + files) and on PostgreSQL + S3; a changed archive is
refused before anything is written."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from kura.bench.servers import kura_env
from schemas.settings import Settings
from storage.backup import (
    MAGIC,
    BackupCorrupt,
    RestoreRefused,
    _members,
    _open_archive,
    _SealingWriter,
    backup,
    verify_archive,
)
from storage.blind_index import find_documents, load_indexer
from storage.crypto import Kek, unwrap
from storage.db import get_engine, upgrade
from storage.disposal import approve_disposal, request_disposal
from storage.models import Document, SourceFile, StoredObject
from storage.restore import RestoreSummary, restore
from storage.retention import set_hold
from storage.runtime import vault_for
from storage.vault import Vault
from tests.custody_data import PEOPLE, file_documents
from tests.helpers import restored_factor, settings_from
from tests.test_custody import _kura, add_people, login, password

fresh_vault = vault_for.__wrapped__  # type: ignore[attr-defined]

# Rows written after the archive was made (the backup's own entry, the restore, sign-ins)
# differ between source and target; everything else must come back identical.
GROWING = {
    "audit_entry",
    "audit_object",
    "audit_head",
    "login_session",
    "audit_checkpoint",
    "person",
}


def _keys() -> dict[str, str]:
    return {
        "kek": Kek.generate().to_base64(),
        "index_key": Kek.generate().to_base64(),
        "audit_key": Kek.generate().to_base64(),
    }


def _populate(env: dict[str, str]) -> tuple[Settings, list[tuple[str, bytes]]]:
    """People, three filed documents, one under legal hold, one disposed of, a checkpoint."""
    settings = settings_from(env)
    upgrade(settings.sqlalchemy_url)
    add_people(env)
    vault = fresh_vault(settings)
    with Session(get_engine(settings.sqlalchemy_url)) as session:
        filed = file_documents(session, settings, vault, PEOPLE)
        set_hold(session, vault, filed[0][0], "case 12", "records")
        request = request_disposal(session, [filed[2][0].receipt_number], "decided", "records")
        approve_disposal(session, vault, request.number, "admin")
        session.commit()
        kept = [(d.receipt_number, scan) for d, scan in filed[:2]]
    _kura(env, "audit", "checkpoint")
    return settings, kept


def _table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = get_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    rows: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in GROWING or table.name == "alembic_version":
                continue
            order = list(table.primary_key.columns)
            rows[table.name] = [
                {
                    k: (
                        v.astimezone(dt.UTC)
                        if isinstance(v, dt.datetime) and v.tzinfo
                        else v.replace(tzinfo=dt.UTC)
                        if isinstance(v, dt.datetime)
                        else v
                    )
                    for k, v in row.items()
                }
                for row in connection.execute(select(table).order_by(*order)).mappings()
            ]
    return rows


def _restore(target: Settings, vault: Vault, archive: Path) -> RestoreSummary:
    """Restore as `kura restore` does: with the index key configured for `target`."""
    return restore(target.sqlalchemy_url, vault, archive, index_key_id=load_indexer(target).id)


def _backup_and_restore(
    source_env: dict[str, str], target_env: dict[str, str], tmp_path: Path
) -> None:
    source, kept = _populate(source_env)
    archive = tmp_path / "kura.backup"

    login(source_env, "records")
    assert "backup" in _kura(source_env, "backup", "--out", str(archive), code=4)
    login(source_env, "backup")
    out = _kura(source_env, "backup", "--out", str(archive))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert digest in out
    assert (tmp_path / "kura.backup.sha256").read_text().split()[0] == digest
    blob = archive.read_bytes()
    for person in PEOPLE:  # encrypted: no value in clear, nor any readable row
        for value in (person["my_number"], person["name"], "receipt_number"):
            assert value.encode() not in blob

    # a wrong password or a person without the duty: refused, nothing restored
    _kura(
        target_env,
        "restore",
        str(archive),
        "--username",
        "backup",
        "--password-stdin",
        stdin="wrong\n",
        code=4,
    )
    _kura(
        target_env,
        "restore",
        str(archive),
        "--username",
        "records",
        "--password-stdin",
        stdin=password("records") + "\n",
        code=4,
    )
    out = _kura(
        target_env,
        "restore",
        str(archive),
        "--username",
        "backup",
        "--password-stdin",
        stdin=password("backup") + "\n",
    )
    assert "restored" in out

    target = settings_from(target_env)
    assert _table_rows(target.sqlalchemy_url) == _table_rows(source.sqlalchemy_url)
    vault = fresh_vault(target)
    indexer = load_indexer(target)
    with Session(get_engine(target.sqlalchemy_url)) as session:
        for receipt, scan in kept:
            document = session.scalars(
                select(Document).where(Document.receipt_number == receipt)
            ).one()
            original = session.get_one(
                StoredObject, session.get_one(SourceFile, document.source_file_id).object_id
            )
            assert vault.get_object(original) == scan
            # locks come back with the objects: the held one is held, the other kept
            assert vault.store.get_lock(original.id).legal_hold
        assert [
            d.receipt_number
            for d in find_documents(session, indexer, "my_number", PEOPLE[1]["my_number"])
        ] == [kept[1][0]]
        disposed = session.scalars(select(Document).where(Document.status == "disposed")).one()
        assert disposed.wrapped_key == b""

    # the restored audit chain and its checkpoints verify; people can sign in again
    restored_factor(source_env, target_env, "admin")
    login(target_env, "admin")
    report = json.loads(_kura(target_env, "audit", "verify", "--json"))
    assert report["problems"] == [], report
    # a second restore is refused: the installation is no longer empty
    out = _kura(
        target_env,
        "restore",
        str(archive),
        "--username",
        "backup",
        "--password-stdin",
        stdin=password("backup") + "\n",
        code=4,
    )
    assert "empty installation only" in out


def test_backup_and_restore_on_the_embedded_default(tmp_path: Path) -> None:
    keys = _keys()
    source = kura_env(data_dir=str(tmp_path / "source"), **keys)
    target = kura_env(data_dir=str(tmp_path / "target"), **keys)
    _backup_and_restore(source, target, tmp_path)


@pytest.mark.services
def test_backup_and_restore_on_postgresql_and_s3(
    tmp_path: Path, postgres_server: Any, s3_server: Any
) -> None:
    import uuid

    keys = _keys()
    urls = []
    for _ in range(2):
        urls.append(postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}"))

    def env(name: str, url: str) -> dict[str, str]:
        return kura_env(
            data_dir=str(tmp_path / name),
            database_url=url,
            s3_endpoint=s3_server.endpoint,
            s3_access_key=s3_server.access_key,
            s3_secret_key=s3_server.secret_key,
            s3_region=s3_server.region,
            s3_bucket=f"test-{uuid.uuid4().hex[:16]}",
            **keys,
        )

    try:
        source = env("source", urls[0])
        _kura(source, "db", "upgrade")  # PostgreSQL is upgraded by its owner, never on the fly
        _backup_and_restore(source, env("target", urls[1]), tmp_path)
    finally:
        for url in urls:
            get_engine(url).dispose()
            postgres_server.drop_database(url.rsplit("/", 1)[1])


# --- A changed archive ----------------------------------------------------------------------


@pytest.fixture
def made(tmp_path: Path) -> tuple[Settings, Path]:
    settings = Settings(data_dir=tmp_path / "source", **_keys())  # type: ignore[arg-type]
    upgrade(settings.sqlalchemy_url)
    with Session(get_engine(settings.sqlalchemy_url)) as session:
        file_documents(session, settings, fresh_vault(settings), PEOPLE[:2])
        session.commit()
    archive = tmp_path / "kura.backup"
    summary = backup(settings.sqlalchemy_url, fresh_vault(settings), archive)
    assert summary.objects == 4 and summary.tables["document"] == 2
    verify_archive(archive, fresh_vault(settings))
    return settings, archive


def _target(tmp_path: Path, source: Settings, name: str = "target") -> Settings:
    return Settings(
        data_dir=tmp_path / name,
        kek=source.kek,
        index_key=source.index_key,
        audit_key=source.audit_key,
    )


@pytest.mark.parametrize("change", ["flip_body", "flip_header", "truncate", "append", "drop_chunk"])
def test_a_changed_archive_is_refused_before_anything_is_written(
    tmp_path: Path, made: tuple[Settings, Path], change: str
) -> None:
    source, archive = made
    data = bytearray(archive.read_bytes())
    header_end = len(MAGIC) + 4 + struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    if change == "flip_body":
        data[(header_end + len(data)) // 2] ^= 0x01
    elif change == "flip_header":
        data[header_end - 10] ^= 0x01
    elif change == "truncate":
        del data[-100:]
    elif change == "append":
        data += b"\x00" * 16
    elif change == "drop_chunk":
        # one chunk holds everything here: drop its end marker by re-framing a prefix
        (length,) = struct.unpack(">I", data[header_end : header_end + 4])
        del data[header_end : header_end + 4 + length]
    archive.write_bytes(bytes(data))
    target = _target(tmp_path, source)
    vault = fresh_vault(target)
    # the operator's checksum file catches it first ...
    with pytest.raises(BackupCorrupt, match="checksum"):
        _restore(target, vault, archive)
    # ... and without it, the archive's own authentication does
    Path(f"{archive}.sha256").unlink()
    with pytest.raises(BackupCorrupt):
        _restore(target, vault, archive)
    assert not (target.data_dir / "kura.db").exists()  # refused before the target was touched
    assert vault.store.is_empty()


def test_contents_that_differ_from_the_manifest_are_refused(
    tmp_path: Path, made: tuple[Settings, Path]
) -> None:
    """Even someone holding the key, who re-encrypts a changed row, is caught by the
    manifest's checksums."""
    source, archive = made
    vault = fresh_vault(source)
    opened = _open_archive(archive, vault)
    members = [(m, h.read()) for m, h in _members(opened)]
    opened.raw.close()
    header_bytes = archive.read_bytes()[len(MAGIC) + 4 :]
    header_bytes = header_bytes[
        : struct.unpack(">I", archive.read_bytes()[len(MAGIC) : len(MAGIC) + 4])[0]
    ]
    header = json.loads(header_bytes)
    key = unwrap(
        vault.kek, base64.b64decode(header["wrapped_key"]), "backup:" + header["created_at"]
    )
    forged = io.BytesIO()
    forged.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
    writer = _SealingWriter(forged, key, hashlib.sha256(header_bytes).digest())
    with tarfile.open(fileobj=writer, mode="w|") as tar:  # type: ignore[call-overload]
        for member, body in members:
            if member.name == "db/document.jsonl":
                body = body.replace(b'"R', b'"X', 1)
            info = tarfile.TarInfo(member.name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    writer.finish()
    archive.write_bytes(forged.getvalue())
    Path(f"{archive}.sha256").unlink()
    target = _target(tmp_path, source)
    with pytest.raises(BackupCorrupt, match=r"db/document\.jsonl does not match"):
        _restore(target, fresh_vault(target), archive)


def test_restore_needs_the_keys_and_an_empty_installation(
    tmp_path: Path, made: tuple[Settings, Path]
) -> None:
    source, archive = made
    other = Settings(data_dir=tmp_path / "other", **_keys())  # type: ignore[arg-type]
    with pytest.raises(RestoreRefused, match="not configured here"):
        _restore(other, fresh_vault(other), archive)
    wrong_index = Settings(
        data_dir=tmp_path / "idx", kek=source.kek, index_key=Kek.generate().to_base64()
    )
    with pytest.raises(RestoreRefused, match="KURA_INDEX_KEY"):
        _restore(wrong_index, fresh_vault(wrong_index), archive)
    # the source itself is not empty
    with pytest.raises(RestoreRefused, match="empty installation only"):
        _restore(source, fresh_vault(source), archive)
    target = _target(tmp_path, source)
    summary = _restore(target, fresh_vault(target), archive)
    assert summary.objects == 4 and summary.tables["document"] == 2
