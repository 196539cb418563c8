"""Synthetic 処理結果一覧表 (the weekly result lists 日本年金機構 mails back), printed and scanned,
with their ground truth: for tests and `kura bench lists`.

A list is printed by a system, not written by hand, so what varies is the printer and the
layout: laser or impact (dot-matrix) print; gothic, mincho or a monospaced (fixed-pitch)
face; names in half-width katakana with a space (ﾔﾏﾀﾞ ﾀﾛｳ) or full-width; dates as 和暦 text
(令和7年6月1日), short forms (R07.06.01, or 7.6.1 for this year's dates) or era-code digits
(9070601); ruled or unruled; columns in other orders, under other headers and widths; rows
that wrap onto a second line; empty cells; a totals line; the header repeated on each page.
The pages then go through the scanner model (`kura.bench.synth.scanner`).

`render_list(seed)` returns the page images and the truth; `write_lists(out, count, seed)`
writes `list_NNNNN.tif` beside `list_NNNNN.truth.json`:

```json
{"source": "list_00000.tif", "kind": "list", "form": "shori_kekka_ichiranhyo",
 "header": {"municipality_code": "041009", "municipality_name": "仙台市",
            "created_date": "2025-06-10", "period": "2025-06-02/2025-06-06"},
 "pages": 3, "rows": [{"number": "1", "basic_pension_number": "1234567890", ...}, ...],
 "style": {...}, "seed": 123}
```
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kura.bench.synth.people import random_person
from kura.bench.synth.scanner import random_effects, scan
from kura.bench.synth.values import random_birth_date
from pipeline.fields import canonical_text
from pipeline.fonts import PRINTED_FONT, font
from schemas.forms import ColumnDef, get_form
from schemas.normalise import ERAS, date_to_era

LIST_FORM = "shori_kekka_ichiranhyo"
MINCHO_FONT = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
FONTS = Path("/usr/share/fonts")


@dataclass(frozen=True)
class Face:
    """A font file (and its face within a collection) a printer prints with."""

    path: Path
    index: int = 0


FACES = {
    "IPAexGothic": Face(PRINTED_FONT),
    "IPAexMincho": Face(MINCHO_FONT),
    # fonts-ipafont
    "IPAGothic": Face(FONTS / "opentype/ipafont-gothic/ipag.ttf"),
    "IPAPGothic": Face(FONTS / "opentype/ipafont-gothic/ipagp.ttf"),
    "IPAMincho": Face(FONTS / "opentype/ipafont-mincho/ipam.ttf"),
    "IPAPMincho": Face(FONTS / "opentype/ipafont-mincho/ipamp.ttf"),
    # fonts-vlgothic
    "VLGothic": Face(FONTS / "truetype/vlgothic/VL-Gothic-Regular.ttf"),
    "VLPGothic": Face(FONTS / "truetype/vlgothic/VL-PGothic-Regular.ttf"),
    # fonts-horai-umefont
    "UmeGothic": Face(FONTS / "truetype/horai-umefont/ume-tgo4.ttf"),
    "UmePGothic": Face(FONTS / "truetype/horai-umefont/ume-pgo4.ttf"),
    "UmePMincho": Face(FONTS / "truetype/horai-umefont/ume-pmo3.ttf"),
    # fonts-noto-cjk (faces of a collection: 0 is Japanese, 5 its monospaced cut)
    "NotoSansCJKJP": Face(FONTS / "opentype/noto/NotoSansCJK-Regular.ttc", 0),
    "NotoSansMonoCJKJP": Face(FONTS / "opentype/noto/NotoSansCJK-Regular.ttc", 5),
    "NotoSerifCJKJP": Face(FONTS / "opentype/noto/NotoSerifCJK-Regular.ttc", 0),
    # fonts-motoya-l-cedar
    "MotoyaLCedar": Face(FONTS / "truetype/motoya-l-cedar/MTLc3m.ttf"),
}
PRINTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "ipaex": {"gothic": ("IPAexGothic",), "mincho": ("IPAexMincho",), "mono": ("IPAexGothic",)},
    "trained": {
        "gothic": ("IPAexGothic", "IPAPGothic", "VLPGothic", "UmePGothic"),
        "mincho": ("IPAexMincho", "IPAPMincho", "UmePMincho"),
        "mono": ("IPAGothic", "IPAMincho", "VLGothic", "UmeGothic"),
    },
    "held": {
        "gothic": ("NotoSansCJKJP", "MotoyaLCedar"),
        "mincho": ("NotoSerifCJKJP",),
        "mono": ("NotoSansMonoCJKJP", "MotoyaLCedar"),
    },
}
"""Which faces a list's printer may print with, by pool. `ipaex`: the two IPAex faces the
generator always printed with (a seed prints the same list it printed before the other pools
came). `trained`: the faces the half-width kana reader is trained on (`kura bench
train-kana`), the IPAex faces among them. `held`: faces that never trained it, for held-out
lists only: what it reads on them is what it would read on a printer it has not seen."""
PAGE_SIZE = (3508, 2480)
"""A4 landscape at 300 dpi."""
MARGIN = 140

MUNICIPALITIES = (("041009", "仙台市"), ("131164", "豊島区"), ("011002", "札幌市"),
                  ("271004", "大阪市"), ("401005", "北九州市"))
NOTIFICATIONS = {
    "資格取得": None, "資格喪失": None, "種別変更": None, "氏名変更": None, "住所変更": None,
    "付加保険料申出": None, "免除申請": ("全額免除", "4分の3免除", "半額免除", "4分の1免除",
                                 "納付猶予"),
    "学生納付特例申請": ("学生納付特例",), "産前産後免除届": ("産前産後免除",),
}
RESULTS = ("処理済", "承認", "却下", "返戻", "保留")
REMARKS = ("書類不備", "添付書類不足のため返戻", "所得確認中", "前年所得超過のため却下",
           "住所地確認済", "再提出分", "本人申出により取下げ予定、後日再提出の予定あり")
ERA_LETTERS = {era.code: era.letter for era in ERAS}
ERA_NAMES = {era.code: era.name for era in ERAS}


@dataclass(frozen=True)
class ListStyle:
    face: str
    """gothic | mincho | mono"""
    impact: bool
    ruled: bool
    half_width_names: bool
    date_style: str
    """wareki | short | bare | code — bare only where the column knows its era."""
    font_px: int
    rows_per_page: int
    page_label: str
    """n/m頁 | 頁：n/m | - n / m -"""
    columns: tuple[str, ...]
    headers: tuple[str, ...]
    narrow_name: bool
    """The name column is narrower than long names: they wrap onto a second line."""
    font: str = ""
    """The face printed with (a key of FACES); empty: the IPAex face of `face`."""


MIN_FONT_PX = 26
"""About 6 pt at 300 dpi: the smallest print a list uses here."""


def page_capacity(font_px: int) -> int:
    """Rows that fit below the header block at this print size, with room for a third of
    them to wrap onto a second line and for the totals line."""
    line = round(font_px * 1.45)
    row = line + font_px // 2
    free = PAGE_SIZE[1] - 2 * MARGIN - 110 - 3 * line - 120 - 2 * row
    return int(free / (row + line / 3))


def municipality_check_digit(five: str) -> str:
    total = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def to_half_width(kana: str) -> str:
    """Full-width katakana as a printer of half-width kana prints it (ガ → ｶﾞ)."""
    table = _half_width_table()
    return "".join(table.get(ch, ch) for ch in kana)


def _half_width_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF66, 0xFF9E):
        half = chr(code)
        for mark in ("", "ﾞ", "ﾟ"):
            full = unicodedata.normalize("NFKC", half + mark)
            if len(full) == 1 and full not in table:
                table[full] = half + mark
    table["ー"] = "ｰ"
    return table


def random_style(rng: random.Random) -> ListStyle:
    form = get_form(LIST_FORM)
    columns = [c.name for c in form.columns or []]
    body = columns[1:]
    if rng.random() < 0.4:  # another system prints the same columns in another order
        for _ in range(3):
            i = rng.randrange(len(body) - 1)
            body[i], body[i + 1] = body[i + 1], body[i]
    order = (columns[0], *body)
    headers = tuple(_header(form.column(name), rng) for name in order)
    face = rng.choice(("gothic", "mincho", "mono"))
    return ListStyle(
        face=face,
        impact=rng.random() < 0.3,
        ruled=rng.random() < 0.5,
        half_width_names=rng.random() < 0.6,
        date_style=rng.choice(("wareki", "short", "bare", "code")),
        font_px=rng.randint(30, 38),
        rows_per_page=rng.randint(10, 40),
        page_label=rng.choice(("n/m頁", "頁：n/m", "- n / m -")),
        columns=order,
        headers=headers,
        narrow_name=rng.random() < 0.3,
    )


def _header(column: ColumnDef, rng: random.Random) -> str:
    if column.aliases and rng.random() < 0.3:
        return rng.choice([a for a in column.aliases if not a.isascii()] or [column.header])
    return column.header


# --- Values ---------------------------------------------------------------------------------

def random_rows(rng: random.Random, count: int, week_end: dt.date) -> list[dict[str, Any]]:
    """Rows as dates and plain strings (the truth is derived from them)."""
    rows = []
    for index in range(count):
        person = random_person(rng)
        processed = week_end - dt.timedelta(days=rng.randint(0, 4))
        received = processed - dt.timedelta(days=rng.randint(3, 60))
        kind = rng.choice(list(NOTIFICATIONS))
        exemptions = NOTIFICATIONS[kind]
        row: dict[str, Any] = {
            "number": str(index + 1),
            "basic_pension_number": f"{rng.randint(1000, 9999)}{rng.randint(0, 999999):06d}",
            "family_kana": person.family_kana,
            "given_kana": person.given_kana,
            "birth_date": random_birth_date(rng, received),
            "notification_type": kind,
            "received_date": received,
            "processed_date": processed,
            "result": rng.choice(("承認", "却下")) if exemptions else rng.choice(RESULTS),
            "exemption_type": rng.choice(exemptions) if exemptions else "",
            "exemption_period": None,
            "remarks": rng.choice(REMARKS) if rng.random() < 0.25 else "",
        }
        if exemptions:
            start_year = received.year if received.month >= 7 else received.year - 1
            row["exemption_period"] = (dt.date(start_year, 7, 1), dt.date(start_year + 1, 6, 1))
        rows.append(row)
    return rows


def truth_row(row: dict[str, Any]) -> dict[str, str]:
    period = row["exemption_period"]
    return {
        "number": row["number"],
        "basic_pension_number": row["basic_pension_number"],
        "name_kana": row["family_kana"] + row["given_kana"],
        "birth_date": row["birth_date"].isoformat(),
        "notification_type": canonical_text(row["notification_type"]),
        "received_date": row["received_date"].isoformat(),
        "processed_date": row["processed_date"].isoformat(),
        "result": row["result"],
        "exemption_type": canonical_text(row["exemption_type"]),
        "exemption_period": f"{period[0]:%Y-%m}/{period[1]:%Y-%m}" if period else "",
        "remarks": canonical_text(row["remarks"]),
    }


def print_date(date: dt.date, style: str, this_era_only: bool) -> str:
    code, year = date_to_era(date)
    if style == "bare" and not (this_era_only and code == 9):
        style = "short"
    if style == "wareki":
        return f"{ERA_NAMES[code]}{'元' if year == 1 else year}年{date.month}月{date.day}日"
    if style == "short":
        return f"{ERA_LETTERS[code]}{year:02d}.{date.month:02d}.{date.day:02d}"
    if style == "bare":
        return f"{year}.{date.month}.{date.day}"
    return f"{code}{year:02d}{date.month:02d}{date.day:02d}"


def print_month(date: dt.date, style: str) -> str:
    code, year = date_to_era(date)
    if style == "wareki":
        return f"{ERA_NAMES[code]}{'元' if year == 1 else year}年{date.month}月"
    if style == "bare":
        return f"{year}.{date.month}"
    return f"{ERA_LETTERS[code]}{year:02d}.{date.month:02d}"


def printed_cells(row: dict[str, Any], style: ListStyle) -> dict[str, str]:
    name = (to_half_width(row["family_kana"]) + " " + to_half_width(row["given_kana"])
            if style.half_width_names else row["family_kana"] + "\u3000" + row["given_kana"])
    period = row["exemption_period"]
    month_style = "short" if style.date_style == "code" else style.date_style
    bpn = row["basic_pension_number"]
    return {
        "number": row["number"],
        "basic_pension_number": f"{bpn[:4]}-{bpn[4:]}" if len(bpn) == 10 else bpn,
        "name_kana": name,
        "birth_date": print_date(row["birth_date"], style.date_style, False),
        "notification_type": row["notification_type"],
        "received_date": print_date(row["received_date"], style.date_style, True),
        "processed_date": print_date(row["processed_date"], style.date_style, True),
        "result": row["result"],
        "exemption_type": row["exemption_type"],
        "exemption_period": (
            f"{print_month(period[0], month_style)}～{print_month(period[1], month_style)}"
            if period else ""
        ),
        "remarks": row["remarks"],
    }


# --- Printing -------------------------------------------------------------------------------

class Printer:
    """Draws text in one face; the monospaced face puts every character on a fixed pitch
    (half-width characters on half of it), as line printers do."""

    def __init__(self, style: ListStyle) -> None:
        self.style = style
        chosen = FACES[style.font or PRINTERS["ipaex"][style.face][0]]
        self.font: ImageFont.FreeTypeFont = (
            font(chosen.path, style.font_px) if chosen.index == 0
            else ImageFont.truetype(str(chosen.path), style.font_px, index=chosen.index))

    def pitch(self, ch: str) -> float:
        wide = unicodedata.east_asian_width(ch) in ("W", "F", "A")
        return self.style.font_px * (1.0 if wide else 0.5)

    def width(self, text: str) -> int:
        if self.style.face == "mono":
            return round(sum(self.pitch(ch) for ch in text))
        return round(self.font.getlength(text))

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
        x, y = xy
        if self.style.face != "mono":
            draw.text((x, y), text, font=self.font, fill=255)
            return
        cursor = float(x)
        for ch in text:
            step = self.pitch(ch)
            glyph = self.font.getlength(ch)
            draw.text((cursor + (step - glyph) / 2, y), ch, font=self.font, fill=255)
            cursor += step


def wrap(text: str, printer: Printer, width: int) -> list[str]:
    """Break a cell's text into lines no wider than `width` (at a space when it can)."""
    if printer.width(text) <= width:
        return [text]
    if " " in text or "\u3000" in text:
        parts = text.replace("\u3000", " ").split(" ", 1)
        if all(printer.width(p) <= width for p in parts):
            return parts
    lines, current = [], ""
    for ch in text:
        if current and printer.width(current + ch) > width:
            lines.append(current)
            current = ""
        current += ch
    return [*lines, current]


@dataclass(frozen=True)
class Layout:
    lefts: tuple[int, ...]
    widths: tuple[int, ...]
    line_px: int


def layout(style: ListStyle, printer: Printer, cells: list[dict[str, str]]) -> Layout:
    pad = style.font_px // 2
    widths = []
    for name, header in zip(style.columns, style.headers, strict=True):
        longest = max([printer.width(row[name]) for row in cells] + [printer.width(header)])
        if name == "name_kana" and style.narrow_name:
            longest = max(printer.width(header), int(longest * 0.7))
        if name == "remarks":
            longest = max(printer.width(header), min(longest, style.font_px * 9))
        widths.append(longest + 2 * pad)
    spare = PAGE_SIZE[0] - 2 * MARGIN - sum(widths)
    if spare < 0:
        raise ValueError("too wide")
    widths = [w + spare // len(widths) for w in widths]
    lefts, x = [], MARGIN
    for w in widths:
        lefts.append(x)
        x += w
    return Layout(tuple(lefts), tuple(widths), round(style.font_px * 1.45))


def render_pages(
    style: ListStyle, header: dict[str, str], cells: list[dict[str, str]], total: int,
    page_count: int
) -> list[Image.Image]:
    printer = Printer(style)
    geometry = layout(style, printer, cells)
    pad = style.font_px // 2
    pages = []
    for page_index in range(page_count):
        chunk = cells[page_index * style.rows_per_page : (page_index + 1) * style.rows_per_page]
        ink = Image.new("L", PAGE_SIZE, 0)
        draw = ImageDraw.Draw(ink)
        title = font(PRINTED_FONT, 60)
        draw.text((PAGE_SIZE[0] // 2, MARGIN), "国民年金　処理結果一覧表", font=title, fill=255,
                  anchor="mt")
        label = style.page_label.replace("n", str(page_index + 1)).replace(
            "m", str(page_count))
        y = MARGIN + 110
        printer.draw(draw, (MARGIN, y), f"市区町村コード：{header['code']}　"
                                         f"市区町村名：{header['name']}")
        right = f"作成年月日：{header['created']}　{label}"
        printer.draw(draw, (PAGE_SIZE[0] - MARGIN - printer.width(right), y), right)
        y += geometry.line_px + 10
        printer.draw(draw, (MARGIN, y), f"対象期間：{header['period']}")
        y += geometry.line_px + 40
        top = y
        for _name, text, left in zip(style.columns, style.headers, geometry.lefts, strict=True):
            printer.draw(draw, (left + pad, y + pad // 2), text)
        y += geometry.line_px + pad
        row_lines = [y]
        for row in chunk:
            wrapped = [wrap(row[name], printer, width - 2 * pad)
                       for name, width in zip(style.columns, geometry.widths, strict=True)]
            for cell_lines, left in zip(wrapped, geometry.lefts, strict=True):
                for i, line in enumerate(cell_lines):
                    printer.draw(draw, (left + pad, y + pad // 2 + i * geometry.line_px), line)
            y += geometry.line_px * max(len(lines) for lines in wrapped) + pad
            row_lines.append(y)
        bottom = y
        if bottom > PAGE_SIZE[1] - MARGIN:
            raise ValueError("the rows run off the page")
        if page_index == page_count - 1:
            printer.draw(draw, (geometry.lefts[0] + pad, y + pad), f"合計　{total}件")
        if style.ruled:
            _rules(draw, geometry, top, row_lines, bottom)
        else:
            draw.line((MARGIN, top - 4, PAGE_SIZE[0] - MARGIN, top - 4), fill=255, width=3)
            draw.line((MARGIN, row_lines[0] - 6, PAGE_SIZE[0] - MARGIN, row_lines[0] - 6),
                      fill=255, width=2)
        pages.append(_on_paper(ink, style.impact))
    return pages


def _rules(draw: ImageDraw.ImageDraw, geometry: Layout, top: int, row_lines: list[int],
           bottom: int) -> None:
    right = geometry.lefts[-1] + geometry.widths[-1]
    for y in (top - 4, *row_lines):
        draw.line((geometry.lefts[0], y - 4, right, y - 4), fill=255, width=3)
    for x in (*geometry.lefts, right):
        draw.line((x, top - 4, x, bottom - 4), fill=255, width=3)


def _on_paper(ink: Image.Image, impact: bool) -> Image.Image:
    """Black print on white paper; an impact printer's characters are made of overlapping
    dots (the gaps between them show) and its ribbon leaves them grey."""
    mask = np.asarray(ink) > 127
    if impact:
        yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
        between_dots = ((yy % 4) == 3) & ((xx % 4) == 3)
        mask = mask & ~between_dots
        level = 60
    else:
        level = 20
    page = np.full(mask.shape, 255, np.uint8)
    page[mask] = level
    return Image.fromarray(page, mode="L").convert("RGB")


# --- Whole lists ----------------------------------------------------------------------------

def render_list(
    seed: int, *, strength: float = 0.8, pages: int | None = None,
    rows_per_page: int | None = None, short_bpn_row: int | None = None,
    printers: str = "ipaex", **style_choices: Any,
) -> tuple[list[Image.Image], dict[str, Any]]:
    """Scanned pages of one list and its truth. `pages`, `rows_per_page` and any field of
    `ListStyle` fix those choices; `short_bpn_row` prints that row's 基礎年金番号 one digit
    short (a row whose number fails its format: its truth keeps the 9 digits printed).
    `printers`: the pool of PRINTERS the face is drawn from, by a generator of its own, so
    that a seed prints the same list, rows and scan in every pool, only in another face."""
    rng = random.Random(seed)
    style = random_style(rng)
    faces = PRINTERS[printers][style_choices.get("face", style.face)]
    style = ListStyle(**{**asdict(style), "font": random.Random(f"face {seed}").choice(faces)})
    page_count = pages if pages is not None else rng.choice((1, 1, 2, 2, 3, 4, 6, 20))
    if page_count > 6:
        style = ListStyle(**{**asdict(style), "rows_per_page": rng.randint(10, 14)})
    if rows_per_page is not None:
        style_choices["rows_per_page"] = rows_per_page
    style = ListStyle(**{**asdict(style), **style_choices})
    if style.rows_per_page > page_capacity(style.font_px):  # a smaller print fits more rows
        style = ListStyle(**{**asdict(style), "font_px": max(
            size for size in range(MIN_FONT_PX, style.font_px + 1)
            if page_capacity(size) >= style.rows_per_page or size == MIN_FONT_PX)})
        style = ListStyle(**{**asdict(style), "rows_per_page": min(
            style.rows_per_page, page_capacity(style.font_px))})
    count = style.rows_per_page * (page_count - 1) + rng.randint(1, style.rows_per_page)
    if rows_per_page is not None:
        count = rows_per_page * page_count
    week_end = dt.date(2025, 6, 6) + dt.timedelta(weeks=rng.randint(0, 40))
    rows = random_rows(rng, count, week_end)
    if short_bpn_row is not None:
        rows[short_bpn_row]["basic_pension_number"] = rows[short_bpn_row][
            "basic_pension_number"][:9]
    code, name = rng.choice(MUNICIPALITIES)
    created = week_end + dt.timedelta(days=rng.randint(3, 7))
    start = week_end - dt.timedelta(days=4)
    date_style = "short" if style.date_style == "code" else style.date_style
    header = {
        "code": code, "name": name,
        "created": print_date(created, date_style, True),
        "period": f"{print_date(start, date_style, True)}～"
                  f"{print_date(week_end, date_style, True)}",
    }
    cells = [printed_cells(row, style) for row in rows]
    while True:
        try:
            images = render_pages(style, header, cells, count, page_count)
            break
        except ValueError:  # the chosen font does not fit the page: print smaller
            style = ListStyle(**{**asdict(style), "font_px": style.font_px - 3})
    effects = random_effects(rng, strength, color_mode=rng.choice(("rgb", "gray", "bw")),
                             dark_border_rate=0.05)
    np_rng = np.random.default_rng(seed)
    scanned = [scan(image, effects, np_rng) for image in images]
    truth = {
        "kind": "list",
        "form": LIST_FORM,
        "header": {"municipality_code": code, "municipality_name": name,
                   "created_date": created.isoformat(),
                   "period": f"{start.isoformat()}/{week_end.isoformat()}"},
        "pages": page_count,
        "rows": [truth_row(row) for row in rows],
        "style": asdict(style),
        "printers": printers,
        "effects": effects.as_dict(),
        "seed": seed,
    }
    return scanned, truth


def list_name(index: int) -> str:
    return f"list_{index:05d}"


def write_lists(out: Path, count: int, seed: int, printers: str = "ipaex") -> list[Path]:
    """`count` scanned lists as multi-page TIFF, each beside its truth (faces from the
    pool `printers` of PRINTERS)."""
    out.mkdir(parents=True, exist_ok=True)
    corpus_rng = random.Random(seed)
    paths = []
    for index in range(count):
        list_seed = corpus_rng.getrandbits(32)
        pages, truth = render_list(list_seed, printers=printers)
        path = out / f"{list_name(index)}.tif"
        dpi = pages[0].info.get("dpi", (300, 300))
        pages[0].save(path, save_all=True, append_images=pages[1:], dpi=dpi,
                      compression="tiff_deflate")
        truth = {"source": path.name, **truth, "corpus_seed": seed}
        path.with_suffix(".truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
        paths.append(path)
    return paths
