"""A register built to meet a printed 処理結果一覧表: the list is generated and scanned by
kura/bench/synth/lists.py, and the register's documents are filed (without OCR, through the
real intake and the workers' `_save_document`) from chosen rows of its truth, so every
outcome of 突合 is planted on purpose."""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import select

from kura.bench.register_timing import cell, file_list_as_read
from schemas.contracts import DocumentResult, FieldResult
from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor
from storage.blind_index import load_indexer
from storage.db import session_scope, upgrade
from storage.models import Batch, FieldValue, Page, SourceFile
from storage.retention import RetentionPolicy
from storage.runtime import indexer_for, vault_for
from tests.custody_data import scan_png
from tests.helpers import PASSWORD
from workers.intake import Arrival, take_in
from workers.jobs import _save_document

FORMS: dict[str, tuple[str, str | None]] = {
    "資格取得": ("kokunen_hihokensha_todoke", "acquisition"),
    "種別変更": ("kokunen_hihokensha_todoke", "category_change"),
    "資格喪失": ("kokunen_hihokensha_todoke", "loss"),
    "氏名変更": ("kokunen_hihokensha_todoke", "name_change"),
    "住所変更": ("kokunen_hihokensha_todoke", "address_change"),
    "免除申請": ("kokunen_menjo_shinsei", None),
    "産前産後免除届": ("kokunen_sanzen_sango", None),
}
"""The 届書区分 a list prints → the form the office received it on (and its choice)."""

STAFF: dict[str, tuple[str, ...]] = {
    "sakura": ("scanning_clerk",),
    "vera": ("verifier",),
    "vito": ("verifier",),
    "vicky": ("verifier", "checker"),
    "chika": ("checker",),
    "rima": ("records_manager",),
}


@dataclass(frozen=True)
class Planted:
    """A document to file: its form, its fields, and the day the office received it."""

    form_id: str
    fields: dict[str, str]
    received: dt.date


def from_row(row: dict[str, str], **changed: str) -> Planted:
    """The document the office received for a list row (its truth), with `changed` fields
    differing from what the list prints; received two days before 日本年金機構's date."""
    form_id, choice = FORMS[row["notification_type"]]
    fields = {"basic_pension_number": row["basic_pension_number"],
              "name_kana": row["name_kana"], "birth_date": row["birth_date"], **changed}
    if choice is not None:
        fields["notification_type"] = choice
    return Planted(form_id, fields,
                   dt.date.fromisoformat(row["received_date"]) - dt.timedelta(days=2))


def stranger(received: dt.date) -> Planted:
    """A document of someone on no list (it will be overdue)."""
    return Planted("kokunen_hihokensha_todoke",
                   {"notification_type": "loss", "basic_pension_number": "4321000099",
                    "name_kana": "ミナミハルカ", "birth_date": "1970-03-04"}, received)


def support_claim(received: dt.date) -> Planted:
    """A 年金生活者支援給付金請求書: forward-only, never verified by content."""
    return Planted("shienkyufu_seikyusho",
                   {"basic_pension_number": "1111222233", "name": "北 一郎"}, received)


def open_register(settings: Settings) -> None:
    upgrade(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:
        for username, roles in STAFF.items():
            add_person(session, Actor("test-setup", "-"), username, list(roles), PASSWORD)


def token(settings: Settings, username: str) -> str:
    with session_scope(settings.sqlalchemy_url) as session:
        return sign_in(session, username, PASSWORD, 60).token


def file_planted(settings: Settings, planted: list[Planted], seed: int = 0) -> list[str]:
    """Take each planted document in (one small scan each) and file its fields as read,
    nothing flagged; returns their 受付番号 in order."""
    vault = vault_for(settings)
    receipts = []
    with session_scope(settings.sqlalchemy_url) as session:
        scans = [scan_png(seed * 1000 + i) for i in range(len(planted))]
        result = take_in(session, vault,
                         [Arrival(f"scan{i}.png", data) for i, data in enumerate(scans)], "cli",
                         (), municipality=settings.municipality_code)
        for page_id, item in zip(result.page_ids, planted, strict=True):
            page = session.get_one(Page, page_id)
            page.status, page.kind, page.form_id, page.form_page = "done", "form", \
                item.form_id, 1
            document = page.document
            assert document is not None
            document.received_date = item.received
            found = DocumentResult(
                source="scan.png", pages=[1], form=item.form_id,
                fields={name: FieldResult(value=value, raw=value, confidence=0.99,
                                          status="accepted", engine="test")
                        for name, value in item.fields.items()})
            _save_document(session, vault, document, found, load_indexer(settings),
                           RetentionPolicy.from_settings(settings))
            session.get_one(SourceFile, page.source_file_id).status = "done"
            receipts.append(document.receipt_number)
    return receipts


def tiff(images: list[Image.Image]) -> bytes:
    """Scanned pages as one multi-page TIFF, as a scanner's batch arrives."""
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:],
                   compression="tiff_deflate")
    return buffer.getvalue()


def take_list(settings: Settings, clerk: str, data: bytes, timeout_s: float = 300
              ) -> list[str]:
    """Take a scanned list in as the clerk and have its pages read (in process on the
    embedded default, by the workers otherwise: waited for); returns the 受付番号 of the
    lists it held."""
    from storage.usecases.intake import batch_busy, take_in_batch
    from storage.usecases.reconciliation import lists_of_batch
    from workers.intake import INTAKE_CHECKS
    from workers.runner import run_pages

    result = take_in_batch(settings, clerk, [Arrival("list.tif", data)], "cli", INTAKE_CHECKS)
    run_pages(settings, result.page_ids)
    deadline = time.monotonic() + timeout_s
    while batch_busy(settings, result.batch_id):
        assert time.monotonic() < deadline, "the list was not read in time"
        time.sleep(0.5)
    return [found.receipt_number for found in lists_of_batch(settings, clerk, result.batch_id)]


def list_as_read(settings: Settings, municipality: str, rows: list[dict[str, str]],
                 printed: str | None = None) -> str:
    """A list as its reader left it (the reading itself is tests/test_register.py's): the
    header's 市区町村コード and the rows, sealed, with their digests. `printed`: the code its
    header prints where that is another municipality's (a list taken in by `municipality`'s
    office that is not its own)."""
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
        listed = file_list_as_read(
            session, vault, indexer, source, municipality,
            [{name: cell(value) for name, value in row.items()} for row in rows], [1] * len(rows))
        if printed is not None:
            code = session.scalars(select(FieldValue).where(
                FieldValue.document_id == listed.id,
                FieldValue.name == "municipality_code")).one()
            code.value_sealed = vault.seal_value(listed, "field:municipality_code:value", printed)
            code.raw_sealed = vault.seal_value(listed, "field:municipality_code:raw", printed)
        return listed.receipt_number
