"""進達 package: the 送付書 and 送付内容内訳書 as PDF in Japanese, and the records as CSV in an
AES-256 ZIP built in memory under a generated password; the 送付書's sender is the office of
the releasing people's municipality; the 突合 report's notes printed under their rows."""

from __future__ import annotations

import datetime as dt
import io
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pyzipper
from PIL import Image
from sqlalchemy import select

from pipeline.reports import LEFT, NOTE_WIDTH, RIGHT, table_pdf, wrapped
from pipeline.transmittal import (
    PASSWORD_ALPHABET,
    Transmittal,
    build_package,
    encrypted_zip,
    generate_password,
    records_csv,
    wareki,
)
from schemas.errors import InvalidInput
from schemas.settings import Settings
from schemas.transmittal import TransmittalItem
from storage.accounts import set_municipality
from storage.audit import Actor
from storage.db import session_scope
from storage.register_models import RegisterEntry
from storage.usecases import transmittals, verification
from tests.register_data import file_planted, open_register, stranger, token
from workers.register import build_transmittal

ITEMS = tuple(
    TransmittalItem(
        receipt_number=f"2025-{n:05d}", form_title="国民年金被保険者関係届書",
        notification_type="資格取得", basic_pension_number=f"{1234000000 + n}",
        name_kana="ヤマダタロウ", received_date=dt.date(2025, 6, 2) + dt.timedelta(days=n % 5),
        pages=1 + n % 2)
    for n in range(35)
)
SAPPORO, EBETSU = "011002", "012173"
BATCH = Transmittal(
    batch_id="2025-W23-01", prepared_on=dt.date(2025, 6, 10),
    addressee="日本年金機構 仙台東年金事務所", sender="仙台市青葉区 保険年金課",
    municipality_code="041017", items=ITEMS)


def _aes_strength(archive: bytes) -> list[int]:
    """The AES strength byte of every member's 0x9901 extra field (3 = 256-bit)."""
    strengths = []
    with zipfile.ZipFile(io.BytesIO(archive)) as plain:
        for info in plain.infolist():
            assert info.compress_type == 99  # AES, not deflate under ZipCrypto
            extra = info.extra
            while extra:
                header, size = struct.unpack("<HH", extra[:4])
                if header == 0x9901:
                    strengths.append(extra[4 + 4])
                extra = extra[4 + size :]
    return strengths


def test_the_records_open_only_with_the_password_and_are_aes_256() -> None:
    package = build_package(BATCH)
    assert _aes_strength(package.archive) == [3, 3]
    with pyzipper.AESZipFile(io.BytesIO(package.archive)) as archive:
        archive.setpassword(package.password.encode())
        text = archive.read("records.csv").decode("utf-8-sig")
        assert archive.read("itemised_list.pdf").startswith(b"%PDF")
    assert text.splitlines()[0].startswith("receipt_number,form_title")
    assert "ヤマダタロウ" in text and len(text.splitlines()) == 1 + len(ITEMS)
    with pyzipper.AESZipFile(io.BytesIO(package.archive)) as archive:
        archive.setpassword(b"wrong-password-123")
        with pytest.raises(RuntimeError):
            archive.read("records.csv")
    with zipfile.ZipFile(io.BytesIO(package.archive)) as plain, pytest.raises(
        (NotImplementedError, RuntimeError)
    ):
        plain.read("records.csv")  # no ZipCrypto: a plain ZIP reader cannot open it
    assert "ヤマダ".encode() not in package.archive
    assert len(package.archive_sha256) == 64


def test_passwords_are_generated_fresh_from_an_unambiguous_alphabet() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 20 and set(p) <= set(PASSWORD_ALPHABET) for p in passwords)
    assert build_package(BATCH).password != build_package(BATCH).password
    with pytest.raises(InvalidInput):
        encrypted_zip({"a.csv": b"x"}, "short")


def test_csv_for_excel_in_utf8_with_bom_or_cp932() -> None:
    rows = [{"name": "髙橋", "kana": "タカハシ"}]
    assert records_csv(rows, ["name", "kana"]).startswith(b"\xef\xbb\xbfname,kana\r\n")
    assert records_csv(rows, ["name", "kana"], "cp932").decode("cp932").splitlines()[1] == (
        "髙橋,タカハシ")
    with pytest.raises(UnicodeEncodeError):
        records_csv([{"name": "𠮷"}], ["name"], "cp932")  # never a silent '?'


def _render(pdf: bytes, tmp_path: Path, name: str) -> list[Image.Image]:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(source), str(tmp_path / name)],
                   check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob(f"{name}-*.png"))]


def _text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_the_cover_note_and_the_itemised_list_print_in_japanese(tmp_path: Path) -> None:
    package = build_package(BATCH)
    cover = _render(package.cover_note_pdf, tmp_path, "cover")
    assert len(cover) == 1
    assert cover[0].convert("L").getextrema()[0] < 100  # something is printed
    text = _text(package.cover_note_pdf, tmp_path)
    assert "送　付　書" in text or "送 付 書" in text
    sheets = sum(item.pages for item in ITEMS)
    assert f"35 件（{sheets} 枚）" in text and "日本年金機構 仙台東年金事務所" in text
    assert wareki(BATCH.prepared_on) == "令和7年6月10日" and "令和7年6月10日" in text
    assert "ヤマダ" not in text  # the cover note carries no personal data
    with pyzipper.AESZipFile(io.BytesIO(package.archive)) as archive:
        archive.setpassword(package.password.encode())
        itemised = archive.read("itemised_list.pdf")
    assert len(_render(itemised, tmp_path, "items")) == 2  # 35 items, 28 a page
    listed = _text(itemised, tmp_path)
    assert "送付内容内訳書" in listed and "1234-000034" in listed and "35 件 52 枚" in listed


def test_a_reports_note_prints_whole_across_the_page_under_its_row(tmp_path: Path) -> None:
    """The 突合 report's 'needs …' words under a row: one text across the page's width,
    wrapped, with no rules between its lines (the rule closing the row comes after it); a
    table without notes prints as it did."""
    note = ("The 基礎年金番号 read on this row (123456789) is not 10 digits: check it on page 2 "
            "of the list; the row stays without a result, kept as it was read. " * 2).strip()
    columns = [("No", 8.0), ("Outcome", 60.0), ("Receipt number", 40.0), ("Result", 20.0)]
    rows = [["1", "matched", "R07-000001", "処理済"], ["2", "unreadable", "", ""],
            ["3", "matched", "R07-000003", "処理済"]]
    noted = table_pdf("report", ["a line"], columns, rows, ["", note, ""])
    plain = table_pdf("report", ["a line"], columns, rows)

    assert len(wrapped(note, NOTE_WIDTH)) == 3
    text = _text(noted, tmp_path)
    lines = [line for line in text.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "The 基礎年金番号" in line)
    assert lines[start - 1].split()[:2] == ["2", "unreadable"]
    assert lines[start + 3].split()[:2] == ["3", "matched"]
    said = lines[start:start + 3]
    assert all(len(line) - len(line.lstrip()) < 8 for line in said)  # from the left edge
    assert " ".join(" ".join(said).split()) == note

    def rules(pdf: bytes, name: str) -> list[int]:
        """The page's rules: pixel rows dark over nearly the whole table's width."""
        source = tmp_path / f"{name}.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "100", "-gray", "-png", str(source),
                        str(tmp_path / name)], check=True)
        (page,) = sorted(tmp_path.glob(f"{name}-*.png"))
        pixels = np.asarray(Image.open(page).convert("L"))
        left, right = round(LEFT / 25.4 * 100) + 2, round(RIGHT / 25.4 * 100) - 2
        dark = [int(y) for y in np.flatnonzero((pixels[:, left:right] < 160).mean(axis=1) > 0.9)]
        return [y for i, y in enumerate(dark) if i == 0 or y - dark[i - 1] > 1]

    ruled, unnoted = rules(noted, "noted"), rules(plain, "plain")
    assert len(ruled) == len(unnoted) == 2 + len(rows)  # above and below the titles, each row
    gap = ruled[3] - ruled[2]  # the row with its note: its rule falls below the three lines
    assert gap > 2.5 * (unnoted[3] - unnoted[2])


def test_the_cover_notes_sender_is_the_office_of_the_releasing_persons_municipality(
    tmp_path: Path,
) -> None:
    """Two offices on one installation: a batch released by people bound to 江別市 names
    江別市's office (KURA_OFFICES) as its sender on the 送付書, not the installation's
    KURA_OFFICE; the installation's own people send as KURA_OFFICE."""
    shared = {"data_dir": tmp_path / "data", "office": "札幌市 保険年金課",
              "offices": f"{EBETSU}=江別市 国保年金課"}
    sapporo = Settings(municipality_code=SAPPORO, **shared)  # type: ignore[arg-type]
    ebetsu = Settings(municipality_code=EBETSU, **shared)  # type: ignore[arg-type]
    assert sapporo.office_of(EBETSU) == "江別市 国保年金課"
    assert sapporo.office_of(SAPPORO) == "札幌市 保険年金課"
    assert sapporo.office_of("013005") == ""  # no office known: the 送付書 names the code
    with pytest.raises(ValueError, match="is not CODE=office"):
        Settings(offices="江別市 国保年金課")  # type: ignore[call-arg]
    open_register(sapporo)
    with session_scope(sapporo.sqlalchemy_url) as session:
        for person in ("vera", "chika", "rima"):
            set_municipality(session, Actor("test-setup", "-"), person, EBETSU)
    ours = file_planted(ebetsu, [stranger(dt.date.today())])  # received as 江別市
    for receipt in ours:
        assert verification.finish(sapporo, token(sapporo, "vera"), receipt) == "verified"

    def sender_of_the_batch(chika: str, rima: str) -> str:
        batch = transmittals.prepare(sapporo, chika)
        released = transmittals.release(sapporo, rima, batch.number, batch.addressee,
                                        len(batch.items), build_transmittal)
        return " ".join(_text(released.cover_note_pdf, tmp_path).split())

    cover = sender_of_the_batch(token(sapporo, "chika"), token(sapporo, "rima"))
    assert "江別市 国保年金課" in cover and f"市区町村コード {EBETSU}" in cover
    assert "札幌市" not in cover
    with session_scope(sapporo.sqlalchemy_url) as session:  # its register entries too
        assert {entry.office for entry in session.scalars(select(RegisterEntry).where(
            RegisterEntry.municipality == EBETSU))} == {"江別市 国保年金課"}
    with session_scope(sapporo.sqlalchemy_url) as session:  # the installation's own again
        for person in ("vera", "chika", "rima"):
            set_municipality(session, Actor("test-setup", "-"), person, None)
    for receipt in file_planted(sapporo, [stranger(dt.date.today())], seed=1):
        assert verification.finish(sapporo, token(sapporo, "vera"), receipt) == "verified"
    cover = sender_of_the_batch(token(sapporo, "chika"), token(sapporo, "rima"))
    assert "札幌市 保険年金課" in cover and f"市区町村コード {SAPPORO}" in cover
    assert "江別市" not in cover
