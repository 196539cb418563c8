"""A forward-only claim (年金生活者支援給付金) and its result on a 処理結果一覧表 (issue 13): its
form carries no name kana or birth date, so until the clerk keys them at the counter 突合 has
only the 基礎年金番号 to go by — one attribute, which never matches (control 30): the row goes
to a person as unconfirmed, saying why. Keyed (sealed, with blind indexes), the row is
confirmed by two attributes like any other, and the person who keyed them may not confirm
its result. On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from schemas.errors import Conflict, InvalidInput
from schemas.settings import Settings
from storage.accounts import add_person
from storage.audit import Actor, AuditEntry
from storage.blind_index import BlindIndexer
from storage.db import session_scope
from storage.models import Document
from storage.register import reindex_identities
from storage.register_models import RegisterEntry
from storage.runtime import indexer_for, vault_for
from storage.usecases import reconciliation as r
from storage.usecases import register as reg
from storage.usecases.transmittals import SamePerson
from tests.helpers import PASSWORD
from tests.register_data import (
    Planted,
    file_planted,
    list_as_read,
    open_register,
    support_claim,
    token,
)
from workers.register import match, report_pdf

OFFICE = "011002"
RECEIVED = dt.date.today() - dt.timedelta(days=20)
KANA, BORN = "キタイチロウ", "1950-04-01"


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
    listed = list_as_read(settings, OFFICE, [_row()])
    chika, kiko = token(settings, "chika"), token(settings, "kiko")

    (line,) = r.reconcile(settings, chika, listed, match).rows
    assert (line.outcome, line.receipt_number, line.candidates) == ("unconfirmed", "", [claim])
    assert set(line.differences) == {"name_kana", "birth_date"}
    assert (line.list_lacks, line.register_lacks) == ([], {claim: ["name_kana", "birth_date"]})
    assert _needs_identity(settings, chika) == {claim: True, form: False}
    _check_the_files_say_what_is_missing(settings, chika, listed, tmp_path, [
        "Only the 基礎年金番号 agrees; nothing else could be compared.",
        f"The register holds no Name (kana) / Birth date for {claim}.",
        "Way forward: a scanning clerk keys the name kana and birth date on the item's line "
        "in the register (`kura register identify`, or the register room), then the list is "
        "reconciled again (possible until it is confirmed)."])

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
    assert _needs_identity(settings, chika) == {claim: False, form: False}
    # a list that prints neither attribute: keying the register cannot confirm its row
    blank = list_as_read(settings, OFFICE, [{**_row(), "name_kana": "", "birth_date": ""}])
    (line,) = r.reconcile(settings, chika, blank, match).rows
    assert line.outcome == "unconfirmed"
    assert (line.list_lacks, line.register_lacks) == (["name_kana", "birth_date"], {claim: []})
    said = ["Only the 基礎年金番号 agrees; nothing else could be compared.",
            "The list prints no Name (kana) / Birth date on this row.",
            f"{claim}: its name kana and birth date were keyed after this run."]
    _check_the_files_say_what_is_missing(settings, chika, blank, tmp_path, [
        *said, "Keying the register cannot confirm this row, as the list prints neither "
        "attribute. If confirmed, the row stays without a result, and its item stays open in "
        "the register."])

    with pytest.raises(SamePerson, match=claim):  # kiko keyed what confirms it
        r.confirm(settings, kiko, listed)
    assert r.confirm(settings, token(settings, "rima"), listed).status == "confirmed"
    assert _the_files_say(settings, chika, listed, tmp_path)[0][1][-1] == ""  # matched
    r.confirm(settings, token(settings, "rima"), blank)  # the row stays without a result
    _check_the_files_say_what_is_missing(settings, chika, blank, tmp_path, [
        *said, "This list is confirmed, so its 突合 cannot run again: the row stays without a "
        "result, and its item stays open in the register."])
    assert [(e.actor, e.detail) for e in _audit(settings, "reconcile.report.file")] == [
        ("chika", {"format": file_format, "rows": 1})
        for _list in range(4) for file_format in ("csv", "pdf")]
    with session_scope(url) as session:
        entry = session.scalars(select(RegisterEntry).join(
            Document, Document.id == RegisterEntry.document_id).where(
            Document.receipt_number == claim)).one()
        assert (entry.stage, entry.result) == ("filed", "処理済")
        assert session.scalar(select(func.count()).select_from(RegisterEntry).where(
            RegisterEntry.origin == "jps_direct")) == 0


def _the_files_say(settings: Settings, who: str, listed: str, tmp_path: Path
                   ) -> tuple[list[list[str]], str]:
    """The report's CSV rows (title first) and its PDF's text, as poppler reads it, with
    runs of white space made one (a sentence runs on over the PDF's cells)."""
    data = r.report_file(settings, who, listed, "csv", report_pdf)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.report_file(settings, who, listed, "pdf", report_pdf))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return rows, " ".join(text.split())


def _check_the_files_say_what_is_missing(settings: Settings, who: str, listed: str,
                                         tmp_path: Path, said: list[str]) -> None:
    """The unconfirmed row's last CSV cell says it all; the PDF says it whole too, on lines
    of its own under the row (where its cells would cut it)."""
    rows, text = _the_files_say(settings, who, listed, tmp_path)
    assert rows[0][-1] == "Needs a person" and rows[1][2].startswith("not confirmed")
    assert rows[1][-1] == " ".join(said)
    assert " ".join(said) in text, text


def _audit(settings: Settings, action: str) -> list[AuditEntry]:
    with session_scope(settings.sqlalchemy_url) as session:
        entries = list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == action).order_by(AuditEntry.seq)))
        session.expunge_all()
        return entries


def _needs_identity(settings: Settings, token: str) -> dict[str, bool]:
    """受付番号 → whether the register says the item waits for its counter identity."""
    return {line.receipt_number: line.needs_identity
            for line in reg.open_items(settings, token)}


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
