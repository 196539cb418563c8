"""The register's whole life: documents received and verified, sent on in a 進達 batch by
two people, the weekly 処理結果一覧表 printed and scanned (kura/bench/synth/lists.py) with a
planted case of every outcome, reconciled, confirmed by another person and filed — on the
embedded default, and once on PostgreSQL with a Celery worker. A bad list is refused with
its reasons, and nothing of it is lost."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from sqlalchemy import func, select

from kura.bench.servers import S3Bucket, kura_env
from kura.bench.synth.lists import render_list
from schemas.errors import InvalidInput
from schemas.i18n import speaking
from schemas.settings import Settings
from storage.audit import AuditEntry
from storage.db import get_engine, session_scope
from storage.models import Document, SourceFile, StoredObject
from storage.register_models import ListRow, RegisterEntry
from storage.runtime import vault_for
from storage.usecases import reconciliation as r
from storage.usecases import register as reg
from storage.usecases import transmittals as t
from storage.usecases import verification as v
from tests.helpers import CeleryWorker, run_kura, services_env, settings_from, sign_in
from tests.register_data import (
    file_planted,
    from_row,
    open_register,
    stranger,
    support_claim,
    take_list,
    tiff,
    token,
)
from workers.register import build_transmittal, match

CHOOSES_LANGUAGE = True  # tests/conftest.py: Japanese by default, `speaking("en")` where read

LIST_SEED = 9
"""Two pages of 8 rows, 札幌市 (011002); row 8 (index 7) prints a 9-digit 基礎年金番号."""
MATCHED = (0, 2, 4, 8, 12)
DIFFERENT = 5
"""The office has this person born a day later than the list prints."""
SHORT_BPN = 7
OTHER_SEED = 2
"""A one-page list of 仙台市 (041009): not this office's."""


def _list() -> tuple[bytes, dict[str, Any]]:
    images, truth = render_list(LIST_SEED, pages=2, rows_per_page=8, short_bpn_row=SHORT_BPN)
    return tiff(images), truth


def _settings(tmp_path: Path, municipality: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", municipality_code=municipality,  # type: ignore[call-arg]
                    office="札幌市 保険年金課")


def _plant(settings: Settings, truth: dict[str, Any]) -> dict[str, str]:
    """The register the list meets; returns role → 受付番号 (matched0…, different, …)."""
    rows = truth["rows"]
    first = dt.date.fromisoformat(rows[0]["received_date"])
    day_after = (dt.date.fromisoformat(rows[DIFFERENT]["birth_date"])
                 + dt.timedelta(days=1)).isoformat()
    planted = [from_row(rows[i]) for i in MATCHED]
    planted += [from_row(rows[DIFFERENT], birth_date=day_after), stranger(first),
                support_claim(first)]
    receipts = file_planted(settings, planted)
    roles = [f"matched{i}" for i in MATCHED] + ["different", "stranger", "support"]
    return dict(zip(roles, receipts, strict=True))


def _verify(settings: Settings, roles: dict[str, str]) -> None:
    """Every form but the forward-only claim is verified (vicky corrects one field of the
    first, chika confirms it: vicky then entered that item)."""
    vera, chika = token(settings, "vera"), token(settings, "chika")
    first = roles["matched0"]
    v.correct(settings, token(settings, "vicky"), first, "birth_date",
              _value(settings, first, "birth_date"), "misread")
    assert v.confirm(settings, chika, first, "birth_date") == "verified"
    for role, receipt in roles.items():
        if role not in ("support", "matched0"):
            assert v.finish(settings, vera, receipt) == "verified"


def _value(settings: Settings, receipt: str, name: str) -> str:
    from storage.register import open_value
    from storage.runtime import vault_for

    with session_scope(settings.sqlalchemy_url) as session:
        document = session.scalars(select(Document).where(
            Document.receipt_number == receipt)).one()
        return open_value(vault_for(settings), document, name)


def _forward(settings: Settings, roles: dict[str, str]) -> t.Released:
    """chika prepares the batch; she may not release it; rima checks and releases it."""
    chika, rima = token(settings, "chika"), token(settings, "rima")
    batch = t.prepare(settings, chika)
    assert sorted(item[0] for item in batch.items) == sorted(roles.values())
    with pytest.raises(t.SamePerson):
        t.release(settings, chika, batch.number, batch.addressee, len(batch.items),
                  build_transmittal)
    with pytest.raises(InvalidInput):
        t.release(settings, rima, batch.number, "日本年金機構 どこか", len(batch.items),
                  build_transmittal)
    released = t.release(settings, rima, batch.number, batch.addressee, len(batch.items),
                         build_transmittal)
    assert released.archive_sha256 == hashlib.sha256(released.archive).hexdigest()
    with zipfile.ZipFile(io.BytesIO(released.archive)) as plain:
        assert {info.compress_type for info in plain.infolist()} == {99}  # AES, not ZipCrypto
    with pyzipper.AESZipFile(io.BytesIO(released.archive)) as archive:
        archive.setpassword(released.password.encode())
        records = archive.read("records.csv").decode("utf-8-sig")
        assert archive.read("itemised_list.pdf").startswith(b"%PDF")
    assert all(receipt in records for receipt in roles.values())
    assert released.cover_note_pdf.startswith(b"%PDF")
    return released


def _outcomes(report: r.Report) -> dict[int, tuple[str, str]]:
    return {line.number - 1: (line.outcome, line.receipt_number) for line in report.rows}


def test_a_week_of_the_register_from_intake_to_filed(tmp_path: Path) -> None:
    data, truth = _list()
    settings = _settings(tmp_path, truth["header"]["municipality_code"])
    open_register(settings)
    roles = _plant(settings, truth)
    _verify(settings, roles)
    clerk = token(settings, "sakura")
    reg.describe(settings, clerk, roles["matched2"], "mail")
    with pytest.raises(InvalidInput):
        reg.describe(settings, clerk, roles["matched2"], "fax")
    lines = reg.open_items(settings, clerk)
    assert {line.stage for line in lines} == {"verified"}
    assert {(line.route, line.office) for line in lines
            if line.receipt_number == roles["matched2"]} == {("mail", "札幌市 保険年金課")}
    assert {line.scanned_via for line in lines} == {"cli"}  # how each was scanned
    assert {line.form_id for line in lines} >= {"kokunen_hihokensha_todoke",
                                                "shienkyufu_seikyusho"}

    released = _forward(settings, roles)
    _check_nothing_of_the_batch_in_clear(settings, released, truth)
    (line,) = t.ledger(settings, clerk)
    assert (line.prepared_by, line.released_by, line.item_count, line.archive_sha256) == (
        "chika", "rima", len(roles), released.archive_sha256)
    assert line.purpose == t.PURPOSE and line.released_at is not None
    t.registered_mail(settings, token(settings, "vito"), released.number, "1234-5678-9012",
                      b"%PDF scan of the receipt")
    _check_mail_receipt_kept_three_years(settings)
    assert {line.stage for line in reg.open_items(settings, clerk)} == {"forwarded"}

    (listed,) = take_list(settings, clerk, data)
    _check_list_kept_as_original(settings, listed, truth)
    chika = token(settings, "chika")
    later = dt.date.today() + dt.timedelta(days=61)
    report = r.reconcile(settings, chika, listed, match, today=later)
    outcomes = _outcomes(report)
    for index in MATCHED:
        assert outcomes[index] == ("matched", roles[f"matched{index}"]), report.rows[index]
    assert outcomes[DIFFERENT] == ("matched_with_differences", roles["different"])
    different = report.rows[DIFFERENT]
    assert different.differences == ["birth_date"]
    assert different.register_side["birth_date"] != different.list_side["birth_date"]
    assert outcomes[SHORT_BPN][0] == "unreadable"  # kept, with its page, for a person
    short = report.rows[SHORT_BPN]
    assert short.page == 1 and len(short.list_side["basic_pension_number"]) != 10
    never = set(range(len(truth["rows"]))) - {*MATCHED, DIFFERENT, SHORT_BPN}
    assert {outcomes[i][0] for i in never} == {"result_without_entry"}
    assert sorted(report.overdue) == sorted([roles["stranger"], roles["support"]])

    # the confirmation: never the one who ran it, nor one who entered an item it settles
    with pytest.raises(t.SamePerson):
        r.confirm(settings, chika, listed)
    with speaking("en"), pytest.raises(t.SamePerson, match=roles["matched0"]):
        r.confirm(settings, token(settings, "vicky"), listed)
    confirmed = r.confirm(settings, token(settings, "rima"), listed, accept=[DIFFERENT + 1])
    assert confirmed.status == "confirmed" and confirmed.confirmed_by == "rima"
    _check_register_after(settings, roles, len(never))
    _check_report_at_the_command_line(tmp_path, settings, listed, roles)
    _check_every_move_audited(settings)


def _check_report_at_the_command_line(tmp_path: Path, settings: Settings, listed: str,
                                      roles: dict[str, str]) -> None:
    """The report as a clerk gets it: on screen, as CSV for Excel and as PDF."""
    env = kura_env(data_dir=str(settings.data_dir), municipality_code=settings.municipality_code,
                   lang="en")
    sign_in(env, "rima", ("records_manager",))
    said = run_kura(env, "totsugo", "show", listed, "--csv", str(tmp_path / "report.csv"),
                    "--pdf", str(tmp_path / "report.pdf"))
    assert "status confirmed" in said and "matched with differences" in said
    assert f"Row {SHORT_BPN + 1}: The 基礎年金番号 read on this row" in said  # and what to do
    rows = list(csv.reader(io.StringIO(
        (tmp_path / "report.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["No", "Page", "Outcome"]
    assert rows[DIFFERENT + 1][3] == roles["different"] and "(accepted)" in rows[DIFFERENT + 1][2]
    assert rows[0][-1] == "Needs a person" and rows[1][-1] == ""  # matched: nothing to do
    assert "is not 10 digits: check it on page 1 of the list" in rows[SHORT_BPN + 1][-1]
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "report.csv").stat().st_mode & 0o077 == 0  # personal values: owner only


def _check_nothing_of_the_batch_in_clear(settings: Settings, released: t.Released,
                                         truth: dict[str, Any]) -> None:
    """The archive's password is nowhere on the disk, nor a record the archive holds."""
    number = truth["rows"][MATCHED[0]]["basic_pension_number"].encode()
    # closed first: a file of the database opened and closed here would drop SQLite's locks
    get_engine(settings.sqlalchemy_url).dispose()
    for path in [p for p in settings.data_dir.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert released.password.encode() not in data and number not in data, path


def _check_every_move_audited(settings: Settings) -> None:
    """Each step of the register's life is a use case with its audit entry, by its person."""
    with session_scope(settings.sqlalchemy_url) as session:
        done = set(session.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.result.in_(("ok", "pending")))).all())
    assert {("field.correct", "vicky"), ("field.confirm", "chika"), ("record.verified", "vera"),
            ("register.describe", "sakura"), ("transmittal.prepare", "chika"),
            ("transmittal.release", "rima"), ("transmittal.mail", "vito"),
            ("intake.batch", "sakura"), ("reconcile.run", "chika"),
            ("reconcile.confirm", "rima"), ("reconcile.report.file", "rima")} <= done


def _check_mail_receipt_kept_three_years(settings: Settings) -> None:
    with session_scope(settings.sqlalchemy_url) as session:
        kept = session.scalars(select(StoredObject).where(
            StoredObject.kind == "mail_receipt")).one()
        assert kept.retain_until is not None
        years = (kept.retain_until.date() - dt.date.today()).days / 365.25
        assert 2.9 < years < 3.1 and not kept.legal_hold


def _check_list_kept_as_original(settings: Settings, listed: str, truth: dict[str, Any]
                                 ) -> None:
    with session_scope(settings.sqlalchemy_url) as session:
        document = session.scalars(select(Document).where(
            Document.receipt_number == listed)).one()
        source = session.get_one(SourceFile, document.source_file_id)
        original = session.get_one(StoredObject, source.object_id)
        assert original.kind == "original" and original.legal_hold  # kept indefinitely
        kept = session.scalars(select(ListRow).where(ListRow.document_id == document.id)
                               .order_by(ListRow.position)).all()
        assert len(kept) == len(truth["rows"])
        assert [row.page_number for row in kept] == [1] * 8 + [2] * 8
        assert all(row.box and row.box[2] > 0 for row in kept)
        sealed = b"".join(row.cells_sealed for row in kept)
        assert not any(row["name_kana"].encode() in sealed for row in truth["rows"])


def _check_register_after(settings: Settings, roles: dict[str, str], direct: int) -> None:
    clerk = token(settings, "sakura")
    with session_scope(settings.sqlalchemy_url) as session:
        stages = dict(session.execute(
            select(Document.receipt_number, RegisterEntry.stage)
            .join(RegisterEntry, RegisterEntry.document_id == Document.id)).all())
        assert session.scalar(select(func.count()).select_from(RegisterEntry).where(
            RegisterEntry.origin == "jps_direct")) == direct
        filed = session.scalars(select(RegisterEntry).where(
            RegisterEntry.stage == "filed")).all()
        assert all(e.list_row_id and e.result and e.filed_at for e in filed)
        for entry in filed:  # filed: its original locked as its class keeps it (here: ever)
            document = session.get_one(Document, entry.document_id)
            source = session.get_one(SourceFile, document.source_file_id)
            assert session.get_one(StoredObject, source.object_id).legal_hold
    for role, receipt in roles.items():
        expected = "forwarded" if role in ("stranger", "support") else "filed"
        assert stages[receipt] == expected, role
    late = reg.overdue(settings, clerk, today=dt.date.today() + dt.timedelta(days=61))
    assert sorted(line.receipt_number for line in late) == sorted(
        [roles["stranger"], roles["support"]])
    assert reg.overdue(settings, clerk) == []
    sixty = dt.date.today() + dt.timedelta(days=60)  # the default: more than 60 days
    assert reg.overdue(settings, clerk, today=sixty) == []
    sooner = settings.model_copy(update={"result_overdue_days": 10})
    assert len(reg.overdue(sooner, clerk, today=dt.date.today() + dt.timedelta(days=11))) == 2
    assert len(reg.overdue(settings, clerk, days=10,
                           today=dt.date.today() + dt.timedelta(days=11))) == 2
    weekly = reg.weekly(settings, clerk, weeks=200)
    assert sum(w.forwarded for w in weekly) == len(roles)
    with speaking("en"):
        exported = reg.export_csv(settings, clerk)
    assert exported.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    assert lines[0][0] == "Receipt number" and len(lines) == 1 + len(roles) + direct
    assert reg.export_csv(settings, clerk, "cp932").decode("cp932").startswith("受付番号")


def test_a_bad_list_is_refused_with_its_reasons_and_nothing_is_lost(tmp_path: Path) -> None:
    """Pages 1 and 3 of a three-page list with a page of another list between them: the
    list is refused with both reasons, its rows and original kept; the other list, of
    another municipality, reconciles to an error to escalate on every row."""
    pages, truth = render_list(LIST_SEED, pages=3, rows_per_page=4)
    other, other_truth = render_list(OTHER_SEED, pages=1, rows_per_page=6)
    settings = _settings(tmp_path, truth["header"]["municipality_code"])
    open_register(settings)
    clerk, vito = token(settings, "sakura"), token(settings, "vito")
    data = tiff([pages[0], other[0], pages[2]])
    listed = take_list(settings, clerk, data)
    assert len(listed) == 2
    with session_scope(settings.sqlalchemy_url) as session:
        rows = {d.receipt_number: session.scalar(select(func.count()).select_from(ListRow)
                                                 .where(ListRow.document_id == d.id))
                for d in session.scalars(select(Document).where(
                    Document.receipt_number.in_(listed)))}
    mine, theirs = listed
    assert rows == {mine: 8, theirs: len(other_truth["rows"])}
    with speaking("en"), pytest.raises(r.ListNotUsable) as refused:
        r.reconcile(settings, vito, mine, match)
    assert "page 2 of the list is missing" in refused.value.message
    assert "file page 2 belongs to another list" in refused.value.message
    report = r.reconcile(settings, vito, theirs, match)
    assert report.counts == {"other_municipality": len(other_truth["rows"])}
    with session_scope(settings.sqlalchemy_url) as session:  # the list as it came, intact
        source = session.scalars(select(SourceFile)).one()
        stored = session.get_one(StoredObject, source.object_id)
        assert stored.sha256 == vault_for(settings).digest(data)  # keyed (issue 14)


@pytest.mark.services
def test_the_same_on_postgresql_with_a_celery_worker(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: S3Bucket
) -> None:
    data, truth = _list()
    env = services_env(tmp_path / "data", redis_url, postgres_url, s3,
                       municipality_code=truth["header"]["municipality_code"])
    settings = settings_from(env)
    open_register(settings)
    roles = _plant(settings, truth)
    _verify(settings, roles)
    _forward(settings, roles)
    scan = tmp_path / "list.tif"
    scan.write_bytes(data)
    sign_in(env, "sakura", ("scanning_clerk",))
    with CeleryWorker(env) as worker:
        said = run_kura(env, "totsugo", "take", str(scan), timeout=600)
    found = re.findall(r"R\d{8}-\d{6}", said)
    assert len(found) == 1, said + worker.log
    listed = found[0]
    report = r.reconcile(settings, token(settings, "vito"), listed, match,
                         today=dt.date.today() + dt.timedelta(days=61))
    outcomes = _outcomes(report)
    assert [outcomes[i] for i in MATCHED] == [("matched", roles[f"matched{i}"])
                                              for i in MATCHED]
    assert outcomes[DIFFERENT] == ("matched_with_differences", roles["different"])
    r.confirm(settings, token(settings, "rima"), listed, accept=[DIFFERENT + 1])
    _check_register_after(settings, roles,
                          len(truth["rows"]) - len(MATCHED) - 2)
