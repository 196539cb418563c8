"""A forward-only claim (年金生活者支援給付金) and its result on a 処理結果一覧表 (issue 13): its
form carries no name kana or birth date, so until the clerk keys them at the counter 突合 has
only the 基礎年金番号 to go by — one attribute, which never matches (control 30): the row goes
to a person as unconfirmed, saying why. Keyed (sealed, with blind indexes), the row is
confirmed by two attributes like any other, and the person who keyed them may not confirm
its result. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from schemas.contracts import DocumentResult, FieldResult
from schemas.errors import Conflict, InvalidInput
from schemas.settings import Settings
from storage.accounts import add_person
from storage.audit import Actor
from storage.blind_index import BlindIndexer
from storage.db import session_scope
from storage.intake import open_receipt
from storage.models import Batch, Document, FieldValue, SourceFile
from storage.register import LIST_FORM, reindex_identities, save_list_rows
from storage.register_models import RegisterEntry
from storage.runtime import indexer_for, vault_for
from storage.usecases import reconciliation as r
from storage.usecases import register as reg
from storage.usecases.transmittals import SamePerson
from tests.helpers import PASSWORD
from tests.register_data import Planted, file_planted, open_register, support_claim, token
from workers.register import match

OFFICE = "011002"
RECEIVED = dt.date.today() - dt.timedelta(days=20)
KANA, BORN = "キタイチロウ", "1950-04-01"


def _cell(value: str) -> FieldResult:
    return FieldResult(value=value, raw=value, confidence=0.99, status="accepted")


def _take_list(settings: Settings, rows: list[dict[str, str]]) -> str:
    """A list as its reader left it (the reading itself is tests/test_register.py's): the
    header's 市区町村コード and the rows, sealed, with their digests."""
    vault, indexer = vault_for(settings), indexer_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        batch = Batch(channel="cli")
        session.add(batch)
        session.flush()
        source = SourceFile(batch_id=batch.id, position=0, filename="file-001.tif",
                            sha256="0" * 64, status="done",
                            object_id=vault.put_object(session, "original", b"list").id)
        session.add(source)
        session.flush()
        listed = open_receipt(session, vault, source, "cli", OFFICE)
        listed.form_id, listed.status = LIST_FORM, "ready"
        session.add(FieldValue(
            document_id=listed.id, position=0, name="municipality_code",
            field_type="municipality_code", confidence=0.99, status="accepted", engine="test",
            value_sealed=vault.seal_value(listed, "field:municipality_code:value", OFFICE),
            raw_sealed=vault.seal_value(listed, "field:municipality_code:raw", OFFICE)))
        save_list_rows(session, vault, indexer, listed, DocumentResult(
            source="list.tif", pages=[1], form=LIST_FORM, fields={},
            rows=[{name: _cell(value) for name, value in row.items()} for row in rows],
            row_pages=[1] * len(rows)))
        return listed.receipt_number


def _row() -> dict[str, str]:
    return {"number": "1", "basic_pension_number": "1111222233", "name_kana": KANA,
            "birth_date": BORN, "notification_type": "年金生活者支援給付金請求",
            "received_date": (RECEIVED + dt.timedelta(days=4)).isoformat(),
            "processed_date": (RECEIVED + dt.timedelta(days=15)).isoformat(), "result": "処理済"}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_forward_only_claim_is_confirmed_by_what_the_clerk_keyed(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (request.getfixturevalue("postgres_url") if database == "postgresql"
           else f"sqlite:///{tmp_path / 'data' / 'kura.db'}")
    settings = Settings(data_dir=tmp_path / "data", database_url=url,  # type: ignore[call-arg]
                        municipality_code=OFFICE)
    open_register(settings)
    with session_scope(url) as session:  # a clerk who is also a checker
        add_person(session, Actor("test-setup", "-"), "kiko", ["scanning_clerk", "checker"],
                   PASSWORD)
    claim, form = file_planted(settings, [
        support_claim(RECEIVED),
        Planted("kokunen_hihokensha_todoke", {
            "notification_type": "loss", "basic_pension_number": "4321000099",
            "name_kana": "ミナミハルカ", "birth_date": "1970-03-04"}, RECEIVED)])
    listed = _take_list(settings, [_row()])
    chika, kiko = token(settings, "chika"), token(settings, "kiko")

    (line,) = r.reconcile(settings, chika, listed, match).rows
    assert (line.outcome, line.receipt_number, line.candidates) == ("unconfirmed", "", [claim])
    assert set(line.differences) == {"name_kana", "birth_date"}

    with pytest.raises(Conflict):  # a form of its own carries them, verified there
        reg.identify(settings, kiko, form, KANA, BORN)
    with pytest.raises(InvalidInput):
        reg.identify(settings, kiko, claim, "Kita Ichiro", BORN)
    with pytest.raises(InvalidInput):
        reg.identify(settings, kiko, claim, KANA, (dt.date.today()
                                                   + dt.timedelta(days=1)).isoformat())

    reg.identify(settings, kiko, claim, "ｷﾀ ｲﾁﾛｳ", "S25.4.2")  # a day off, half-width
    (line,) = r.reconcile(settings, chika, listed, match).rows
    assert (line.outcome, line.receipt_number) == ("matched_with_differences", claim)
    assert line.differences == ["birth_date"]
    assert line.register_side == {"name_kana": KANA, "birth_date": "1950-04-02"}

    reg.identify(settings, kiko, claim, "きた いちろう", "昭和25年4月1日")  # keyed again
    _check_kept_sealed(settings, claim)
    report = r.reconcile(settings, chika, listed, match)
    assert [(x.outcome, x.receipt_number) for x in report.rows] == [("matched", claim)]

    with pytest.raises(SamePerson, match=claim):  # kiko keyed what confirms it
        r.confirm(settings, kiko, listed)
    assert r.confirm(settings, token(settings, "rima"), listed).status == "confirmed"
    with session_scope(url) as session:
        entry = session.scalars(select(RegisterEntry).join(
            Document, Document.id == RegisterEntry.document_id).where(
            Document.receipt_number == claim)).one()
        assert (entry.stage, entry.result) == ("filed", "処理済")
        assert session.scalar(select(func.count()).select_from(RegisterEntry).where(
            RegisterEntry.origin == "jps_direct")) == 0


def _check_kept_sealed(settings: Settings, claim: str) -> None:
    indexer = indexer_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        entry = session.scalars(select(RegisterEntry).join(
            Document, Document.id == RegisterEntry.document_id).where(
            Document.receipt_number == claim)).one()
        assert entry.identity_sealed is not None and entry.identified_by == "kiko"
        assert KANA.encode() not in entry.identity_sealed and b"1950" not in entry.identity_sealed
        assert entry.identity_digests == {"name_kana": indexer.digest("name_kana", KANA),
                                          "birth_date": indexer.digest("birth_date", BORN)}
        other = BlindIndexer(bytes(range(32)))  # a new index key: keyed again from the seal
        assert reindex_identities(session, vault_for(settings), other) == 2
        assert entry.identity_digests["name_kana"] == other.digest("name_kana", KANA)
        assert entry.identity_key_id == other.id
        session.rollback()  # the installation keeps its key
