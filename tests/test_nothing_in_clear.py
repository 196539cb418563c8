"""Nothing personal in clear in the database (issue 14): read as another program would read
the SQLite file, it names no character of a person's writing and confirms no original's
SHA-256; the verifier still sees the reasons whole, and an installation of before is
rewritten by migration 0010."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor
from storage.crypto import MissingKey
from storage.db import alembic_config, get_engine, session_scope, upgrade
from storage.models import Document, SourceFile, StoredObject
from storage.runtime import vault_for
from storage.usecases import records, verification
from tests.custody_data import PEOPLE, file_documents
from tests.helpers import PASSWORD

REASONS = {"name": ["variant_kanji:﨑", "low_confidence"], "name_kana": ["doubt:ダ/タ"]}
PERSONAL = ("﨑", "ダ/タ")


def _filed(tmp_path: Path) -> tuple[Settings, str, bytes, str]:
    """An embedded installation with one filed document whose name fields wait with
    reasons that hold characters of the name; (settings, 受付番号, original, verifier)."""
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    upgrade(settings.sqlalchemy_url, settings)
    with session_scope(settings.sqlalchemy_url) as session:
        add_person(session, Actor("test-setup", "-"), "vera", ["verifier"], PASSWORD)
        add_person(session, Actor("test-setup", "-"), "rima", ["records_manager"], PASSWORD)
        [(document, scan)] = file_documents(session, settings, vault_for(settings),
                                            PEOPLE[:1], reasons=REASONS)
        receipt = document.receipt_number
    with session_scope(settings.sqlalchemy_url) as session:
        token = sign_in(session, "vera", PASSWORD, 60).token
    return settings, receipt, scan, token


def _as_read_from_the_file(settings: Settings) -> tuple[list[str], list[str], bytes]:
    """The reasons and digests in the database, and every byte of its files, read with
    sqlite3 and no key."""
    get_engine(settings.sqlalchemy_url).dispose()  # the WAL folded into the file
    database = settings.data_dir / "kura.db"
    with closing(sqlite3.connect(database)) as connection:
        reasons = [r for (r,) in connection.execute("SELECT reasons FROM field_value")]
        digests = [d for (d,) in connection.execute(
            "SELECT sha256 FROM stored_object UNION ALL SELECT sha256 FROM source_file")]
    raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("kura.db*"))
    return reasons, digests, raw


def _person_not_in(settings: Settings, scan: bytes) -> None:
    reasons, digests, raw = _as_read_from_the_file(settings)
    plain = hashlib.sha256(scan).hexdigest()
    assert plain not in digests and plain.encode() not in raw
    assert any("variant_kanji" in r for r in reasons) and any("doubt" in r for r in reasons)
    for detail in PERSONAL:
        assert not any(detail in r for r in reasons)
        assert detail.encode() not in raw


def _verifier_sees_all(settings: Settings, receipt: str, token: str) -> None:
    view = verification.open_document(settings, token, receipt)
    by_name = {f.name: f for f in view.fields}
    assert by_name["name"].reasons == REASONS["name"]
    assert by_name["name_kana"].reasons == REASONS["name_kana"]
    assert by_name["name_kana"].doubtful == ["ダ"]


def test_the_database_alone_names_no_character_and_confirms_no_file(tmp_path: Path) -> None:
    settings, receipt, scan, token = _filed(tmp_path)
    _person_not_in(settings, scan)
    _verifier_sees_all(settings, receipt, token)
    with session_scope(settings.sqlalchemy_url) as session:
        rima = sign_in(session, "rima", PASSWORD, 60).token
    opened = records.open_original(settings, rima, receipt, "開示請求 2026-41")
    assert opened.data == scan  # checked against its keyed digest


def test_migration_0010_rewrites_an_installation_of_before(tmp_path: Path) -> None:
    settings, receipt, scan, token = _filed(tmp_path)
    config = alembic_config(settings.sqlalchemy_url)
    config.attributes["settings"] = settings
    command.downgrade(config, "0010")  # the migrations after 0010 undone, then 0010 by hand
    get_engine(settings.sqlalchemy_url).dispose()
    with closing(sqlite3.connect(settings.data_dir / "kura.db")) as connection:  # as 0008 kept it
        plain = hashlib.sha256(scan).hexdigest()
        connection.execute("UPDATE source_file SET sha256 = ?", (plain,))
        original = connection.execute("SELECT object_id FROM source_file").fetchone()[0]
        connection.execute("UPDATE stored_object SET sha256 = ? WHERE id = ?",
                           (plain, original))
        for name, reasons in REASONS.items():
            connection.execute("UPDATE field_value SET reasons = json(?) WHERE name = ?",
                               (json.dumps(reasons, ensure_ascii=False), name))
        connection.execute("ALTER TABLE field_value DROP COLUMN reasons_sealed")
        connection.execute("UPDATE alembic_version SET version_num = '0008'")
        connection.commit()
    reasons, digests, _ = _as_read_from_the_file(settings)
    assert plain in digests and any("﨑" in r for r in reasons)  # the old, clear state

    away = settings.keys_dir.rename(tmp_path / "keys-away")  # the keys are needed, and used
    with pytest.raises(MissingKey):
        upgrade(settings.sqlalchemy_url, settings)
    assert not settings.keys_dir.exists()  # no new key was made for the rewrite
    away.rename(settings.keys_dir)
    upgrade(settings.sqlalchemy_url, settings)

    _person_not_in(settings, scan)
    _verifier_sees_all(settings, receipt, token)
    with session_scope(settings.sqlalchemy_url) as session:
        document = session.scalars(select(Document)).one()
        source = session.get_one(SourceFile, document.source_file_id)
        stored = session.get_one(StoredObject, source.object_id)
        assert vault_for(settings).get_object(stored) == scan
