"""Read a printed list (処理結果一覧表) as a table: columns found by their header text.

A list page has no registration marks and no fixed layout: 日本年金機構's systems print it
in other fonts, widths and column orders. So the page is read the way a person reads it:

1. level the page (the skew that makes the printed lines straightest), find the ruling and
   take it out of the text, and cut the text into printed lines;
2. read the lines at the top until one holds most of the column headers (the table's header
   row); the lines above it are the header block (市区町村コード, 作成年月日, page n/m …);
3. find where each column lies from the header row and the empty vertical gaps that run
   through every line of the table (or the vertical rules, on a ruled list);
4. read each cell with only the characters its column may hold; a line with the row-marking
   column (番号) filled starts a row, the lines without it are the row's wrapped remainder,
   and a line that counts rows (合計 N件) ends the table.

Every cell becomes a canonical value with a confidence and a status, as a form field does.

This module puts the steps together; each lives in a module of its own: the page's geometry
(`listgeometry`), the header row and the columns (`listcolumns`), the header block and page
number (`listheader`), reading crops (`listreading`; code columns `listvocabulary`, names in
kana `listkana`), each cell's verdict (`listverdicts`). Pages into lists: `listchecks`.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.cleanup import to_gray
from pipeline.listcolumns import column_bounds, find_header_row
from pipeline.listgeometry import Line, cell_crop, ink_of, printed_lines, rotated, rulings, skew_of
from pipeline.listheader import read_header_block
from pipeline.listkana import read_kana
from pipeline.listreading import column_alphabet, read_lines
from pipeline.listverdicts import decide_cell, second_opinion, unread_print
from pipeline.listvocabulary import read_vocabulary
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.contracts import FieldResult
from schemas.errors import InvalidInput
from schemas.forms import FormDef
from schemas.i18n import _

TABLE_END_GAP = 2.6
"""A gap between printed lines this many times their spacing ends the table."""
TOTAL_WORDS = re.compile(r"[合計総件]")
TOTAL_ALPHABET = "0123456789合計総件数"
"""The row-marking column is read with these first: digits, or the words of a totals line."""
TOTAL_COUNT = re.compile(r"(\d+)件")


class ListLayoutError(InvalidInput):
    """A page that looks like no list: no header row was found on it."""

    code = "not_a_list"


@dataclass
class ListPageRead:
    """What one page of a list says."""

    header: dict[str, FieldResult]
    rows: list[dict[str, FieldResult]]
    page: int | None
    """The printed page number (n of n/m), None when not printed or not read."""
    of: int | None
    printed_total: int | None
    """The count of a totals line (合計 N件) on this page."""
    rotation: int
    reasons: list[str] = field(default_factory=list)


def _side_by_side(pieces: list[np.ndarray]) -> np.ndarray:
    """Crops of one cell's printed lines joined left to right, as one line to read."""
    if len(pieces) == 1:
        return pieces[0]
    height = max(p.shape[0] for p in pieces)
    gap = np.full((height, max(4, height // 3)), 255, np.uint8)
    padded = [cv2.copyMakeBorder(p, 0, height - p.shape[0], 0, 0, cv2.BORDER_CONSTANT,
                                 value=255) for p in pieces]
    joined = [padded[0]]
    for piece in padded[1:]:
        joined += [gap, piece]
    return np.hstack(joined)


def _table_lines(body: list[Line]) -> tuple[list[Line], list[Line]]:
    """The lines of the table and those below it (a page number, a note): the table ends
    at the first gap much wider than its line spacing."""
    if len(body) < 3:
        return body, []
    pitch = float(np.median([b.top - a.top for a, b in itertools.pairwise(body)]))
    for index, (a, b) in enumerate(itertools.pairwise(body)):
        if b.top - a.top > TABLE_END_GAP * pitch:
            return body[: index + 1], body[index + 1 :]
    return body, []


def read_list_page(rgb: np.ndarray, form: FormDef, engine_name: str = "ppocr"
                   ) -> ListPageRead:
    """Read one page of a list; ListLayoutError when no header row is found on it either way
    up."""
    engine = get_engine(engine_name)
    if not isinstance(engine, PaddleEngine):
        raise ValueError("lists are read with a PP-OCR engine")
    gray = to_gray(rgb)
    failure = ListLayoutError(_("no header row of the list was found"))
    # A list fills its pages from the top: the way up with more print in the top half is
    # tried first.
    dark = gray < 128
    half = dark.shape[0] // 2
    ways = (0, 180) if dark[:half].sum() >= dark[half:].sum() else (180, 0)
    for rotation in ways:
        turned = gray if rotation == 0 else cv2.rotate(gray, cv2.ROTATE_180)
        try:
            return _read_upright(engine, turned, form, rotation)
        except ListLayoutError as error:
            failure = error
    raise failure


def _read_upright(engine: PaddleEngine, gray: np.ndarray, form: FormDef, rotation: int
                  ) -> ListPageRead:
    columns = form.columns or []
    ink = ink_of(gray)
    angle = skew_of(ink)
    gray = rotated(gray, angle, 255)
    ink = ink_of(gray)
    horizontal, vertical = rulings(ink)
    text = ink & ~horizontal & ~vertical
    gray = np.where(horizontal | vertical, 255, gray).astype(np.uint8)  # rules out of crops
    lines = printed_lines(text)
    header_row = find_header_row(engine, gray, text, lines, columns)
    if header_row is None:
        raise ListLayoutError(_("no header row of the list was found"))
    body = lines[header_row.index + 1 :]
    places = column_bounds(header_row, text, vertical, body, gray.shape[1])
    by_name = {c.name: c for c in columns if c.name in places}
    marker = next(c for c in columns if c.marks_row)
    reasons = [f"column_not_found:{c.name}" for c in columns if c.name not in places]
    if marker.name not in places:
        raise ListLayoutError(_("the {header} column was not found").format(header=marker.header))

    body, footer = _table_lines(body)
    marks = {i: c for i, line in enumerate(body)
             if (c := cell_crop(gray, text, line, *places[marker.name])) is not None}
    free = dict(zip(marks, read_lines(engine, list(marks.values()), TOTAL_ALPHABET),
                    strict=True))
    row_lines: list[list[int]] = []
    printed_total = None
    for index, line in enumerate(body):
        if index in free and TOTAL_WORDS.search(free[index].text):
            inked = np.flatnonzero(text[line.top : line.bottom].any(axis=0))
            whole = engine.read_lines(
                [gray[line.top : line.bottom, inked[0] : inked[-1] + 1]])[0].text
            count = TOTAL_COUNT.search(unicodedata.normalize("NFKC", whole).replace(" ", ""))
            printed_total = int(count[1]) if count else None
            if count is None:
                reasons.append("total_unreadable")
            footer = body[index + 1 :] + footer
            break
        if index in marks:
            row_lines.append([index])
        elif row_lines:  # the wrapped rest of the row above
            row_lines[-1].append(index)
    # A wrapped cell is read as one line: its printed lines side by side.
    cells: dict[tuple[int, str], np.ndarray] = {}
    for row, indices in enumerate(row_lines):
        for name, (left, right) in places.items():
            pieces = [c for i in indices
                      if (c := cell_crop(gray, text, body[i], left, right)) is not None]
            if pieces:
                cells[(row, name)] = _side_by_side(pieces)
    readings: dict[tuple[int, str], Reading] = {}
    disputed: set[tuple[int, str]] = set()
    unread: set[tuple[int, str]] = set()
    for name, column in by_name.items():
        keys = [key for key in cells if key[1] == name]
        images = [cells[k] for k in keys]
        if column.vocabulary:
            read = read_vocabulary(engine, images, column)
        elif column.type == "kana":
            read = read_kana(engine, images, column_alphabet(column))
        else:
            read = read_lines(engine, images, column_alphabet(column))
            if column.type == "text":
                unread |= {key for key, image, reading in zip(keys, images, read, strict=True)
                           if unread_print(image, reading)}
                disputed |= {key for key, agrees in zip(
                    keys, second_opinion(images, read), strict=True) if not agrees}
        readings.update(zip(keys, read, strict=True))
    header_values, page, of = read_header_block(
        engine, gray, text, lines[: header_row.index] + footer, form.header or [])
    height, width = gray.shape

    def box(row: int, name: str) -> tuple[int, int, int, int]:
        """The cell on the page as scanned (turned back if it was read upside down)."""
        left, right = places[name]
        top, bottom = body[row_lines[row][0]].top, body[row_lines[row][-1]].bottom
        if rotation == 180:
            left, right, top, bottom = width - right, width - left, height - bottom, height - top
        return (left, top, right - left, bottom - top)

    decided = [
        {c.name: decide_cell(c, readings.get((row, c.name)), box(row, c.name),
                             disputed=(row, c.name) in disputed, unread=(row, c.name) in unread)
         for c in columns if c.name in places}
        for row in range(len(row_lines))
    ]
    return ListPageRead(header_values, decided, page, of, printed_total, rotation, reasons)

