"""進達: what goes to 日本年金機構 with a batch of verified records (DOMAIN.md §5.3, §8.5;
controls 41–42, 46–47): the 送付書 (cover note) and 送付内容内訳書 (itemised list) as PDF in
Japanese fonts, and the records as CSV inside an AES-256 encrypted ZIP built in memory.

Pure functions of their inputs: nothing here writes a file. The records exist in clear only
in this process's memory, on their way into the encrypted archive; the archive's password is
generated here and handed back once, for the releasing person (it is never stored in clear:
that is the caller's duty).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyzipper
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D

from pipeline.fonts import PRINTED_FONT
from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.normalise import ERAS, date_to_era
from schemas.transmittal import TransmittalItem

A4_INCHES = (8.27, 11.69)
ITEMS_PER_PAGE = 28
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
"""Letters and digits a person reads without confusing them (no 0/O, 1/l/I)."""
PASSWORD_LENGTH = 20
"""20 characters of 57: about 117 bits."""


@dataclass(frozen=True)
class Transmittal:
    batch_id: str
    prepared_on: dt.date
    addressee: str
    """e.g. 日本年金機構 仙台東年金事務所"""
    sender: str
    """e.g. 仙台市青葉区 保険年金課"""
    municipality_code: str
    items: tuple[TransmittalItem, ...]
    purpose: str = "国民年金関係届書等の進達"
    medium: str = "電子記録媒体（AES-256 暗号化 ZIP）"
    carrier: str = "簡易書留"


@dataclass(frozen=True)
class TransmittalPackage:
    cover_note_pdf: bytes
    """送付書: no personal data (counts, addressee, sender)."""
    archive: bytes
    """AES-256 ZIP holding records.csv and the 送付内容内訳書 (itemised_list.pdf)."""
    archive_sha256: str
    password: str
    """Shown once to the releasing person; the caller never stores it in clear."""


def wareki(date: dt.date) -> str:
    code, year = date_to_era(date)
    era = next(e.name for e in ERAS if e.code == code)
    return f"{era}{'元' if year == 1 else year}年{date.month}月{date.day}日"


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def records_csv(
    rows: Sequence[dict[str, str]], columns: Sequence[str],
    encoding: Literal["utf-8-sig", "cp932"] = "utf-8-sig",
) -> bytes:
    """The records as CSV that Excel opens as it is (UTF-8 with BOM, or CP932 on request);
    a value CP932 cannot hold is an error, never a silent '?'."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return text.getvalue().encode(encoding, errors="strict")


def encrypted_zip(files: dict[str, bytes], password: str) -> bytes:
    """A ZIP whose every member is AES-256 encrypted (WinZip AE-2), built in memory."""
    if len(password) < 12:
        raise InvalidInput(_("the archive's password is too short (12 characters at least)"))
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password.encode("ascii"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- PDF pages -------------------------------------------------------------------------------

def _font(size: float) -> FontProperties:
    return FontProperties(fname=str(PRINTED_FONT), size=size)


class _Page:
    """One A4 page drawn in millimetres from the top left, with Japanese text."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=A4_INCHES)

    def text(self, x: float, y: float, text: str, size: float = 10.5,
             align: Literal["left", "center", "right"] = "left") -> None:
        self.figure.text(x / 210, 1 - y / 297, text, fontproperties=_font(size), ha=align,
                         va="baseline")

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.6) -> None:
        self.figure.add_artist(Line2D([x0 / 210, x1 / 210], [1 - y0 / 297, 1 - y1 / 297],
                                      linewidth=width, color="black"))

    def box(self, x: float, y: float, w: float, h: float) -> None:
        for a, b, c, d in ((x, y, x + w, y), (x, y + h, x + w, y + h), (x, y, x, y + h),
                           (x + w, y, x + w, y + h)):
            self.line(a, b, c, d)


def _pdf(pages: list[_Page], title: str) -> bytes:
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": title, "Creator": "Kura"}) as pdf:
        for page in pages:
            pdf.savefig(page.figure)
    return buffer.getvalue()


def cover_note_pdf(transmittal: Transmittal) -> bytes:
    """送付書: who sends what to whom, how many items, how, and who checked it."""
    page = _Page()
    page.text(190, 25, f"第 {transmittal.batch_id} 号", align="right")
    page.text(190, 32, wareki(transmittal.prepared_on), align="right")
    page.text(20, 48, f"{transmittal.addressee}　御中", size=13)
    page.text(190, 62, transmittal.sender, align="right")
    page.text(190, 69, f"（市区町村コード {transmittal.municipality_code}）", size=9,
              align="right")
    page.text(105, 90, "送　付　書", size=20, align="center")
    page.text(25, 108, "下記のとおり送付しますので、ご査収くださいますようお願いします。")
    page.text(105, 122, "記", size=12, align="center")
    pages = max(1, -(-len(transmittal.items) // ITEMS_PER_PAGE))
    sheets = sum(i.pages for i in transmittal.items)
    lines = (
        ("件　　名", transmittal.purpose),
        ("件　　数", f"{len(transmittal.items)} 件（{sheets} 枚）"),
        ("媒　　体", transmittal.medium),
        ("送付方法", transmittal.carrier),
        ("添付書類", f"送付内容内訳書 {pages} 枚（暗号化 ZIP 内）"),
        ("パスワード", "別途通知します"),
    )
    y = 135
    for label, value in lines:
        page.box(25, y, 40, 11)
        page.box(65, y, 120, 11)
        page.text(29, y + 7.5, label)
        page.text(69, y + 7.5, value)
        y += 11
    page.text(25, y + 14, "宛先及び送付物は、作成者以外の職員が確認した上で発送すること。", size=9)
    for index, label in enumerate(("作成者", "確認者", "発送者")):
        x = 100 + index * 30
        page.box(x, y + 22, 28, 8)
        page.box(x, y + 30, 28, 22)
        page.text(x + 14, y + 28, label, size=9, align="center")
    return _pdf([page], "送付書")


ITEM_COLUMNS = (
    ("No", 10, "left"), ("受付番号", 26, "left"), ("届書", 42, "left"), ("届書区分", 24, "left"),
    ("基礎年金番号", 26, "left"), ("氏名（カナ）", 32, "left"), ("受付年月日", 28, "left"),
    ("枚数", 10, "right"),
)


def itemised_list_pdf(transmittal: Transmittal) -> bytes:
    """送付内容内訳書: every item of the batch, one line each, with page n/m and totals."""
    chunks = [transmittal.items[i : i + ITEMS_PER_PAGE]
              for i in range(0, max(1, len(transmittal.items)), ITEMS_PER_PAGE)]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        page = _Page()
        page.text(105, 20, "送付内容内訳書", size=16, align="center")
        page.text(10, 30, f"{transmittal.sender}　→　{transmittal.addressee}", size=9)
        page.text(200, 30, f"第 {transmittal.batch_id} 号　{wareki(transmittal.prepared_on)}"
                           f"　{number}/{len(chunks)}頁", size=9, align="right")
        x = 6.0
        y = 38.0
        page.line(6, y, 204, y)
        for title, width, _align in ITEM_COLUMNS:
            page.text(x + 1, y + 6, title, size=8.5)
            x += width
        y += 9
        page.line(6, y, 204, y)
        offset = (number - 1) * ITEMS_PER_PAGE
        for index, item in enumerate(chunk, start=offset + 1):
            bpn = item.basic_pension_number
            cells = (str(index), item.receipt_number, item.form_title, item.notification_type,
                     f"{bpn[:4]}-{bpn[4:]}" if len(bpn) == 10 else bpn, item.name_kana,
                     wareki(item.received_date), str(item.pages))
            x = 6.0
            for text, (_title, width, align) in zip(cells, ITEM_COLUMNS, strict=True):
                if align == "right":
                    page.text(x + width - 1, y + 6, text, size=8, align="right")
                else:
                    page.text(x + 1, y + 6, text, size=8)
                x += width
            y += 8.5
            page.line(6, y, 204, y, width=0.3)
        if number == len(chunks):
            total_pages = sum(i.pages for i in transmittal.items)
            page.text(10, y + 8, f"合計　{len(transmittal.items)} 件　{total_pages} 枚", size=10)
        pages.append(page)
    return _pdf(pages, "送付内容内訳書")


RECORD_COLUMNS = ("receipt_number", "form_title", "notification_type", "basic_pension_number",
                  "name_kana", "received_date", "pages")


def build_package(
    transmittal: Transmittal,
    records: Sequence[dict[str, str]] | None = None,
    columns: Sequence[str] = RECORD_COLUMNS,
    encoding: Literal["utf-8-sig", "cp932"] = "utf-8-sig",
) -> TransmittalPackage:
    """The cover note, and the records (by default the items themselves) with the itemised
    list in an AES-256 ZIP under a new password."""
    if records is None:
        records = [
            {"receipt_number": i.receipt_number, "form_title": i.form_title,
             "notification_type": i.notification_type,
             "basic_pension_number": i.basic_pension_number, "name_kana": i.name_kana,
             "received_date": i.received_date.isoformat(), "pages": str(i.pages)}
            for i in transmittal.items
        ]
    password = generate_password()
    archive = encrypted_zip(
        {"records.csv": records_csv(records, columns, encoding),
         "itemised_list.pdf": itemised_list_pdf(transmittal)},
        password,
    )
    return TransmittalPackage(
        cover_note_pdf=cover_note_pdf(transmittal),
        archive=archive,
        archive_sha256=hashlib.sha256(archive).hexdigest(),
        password=password,
    )
