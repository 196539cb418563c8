"""A report as a printed table (A4, Japanese fonts): a title, a few lines about it, then
its rows under their column titles, page after page. The words come from the caller,
already in the reader's language (the 突合 report of kura totsugo)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from pipeline.transmittal import _Page, _pdf

ROWS_PER_PAGE = 30
LEFT, RIGHT = 8.0, 202.0
WIDE_MM, NARROW_MM = 2.5, 1.35
"""How much room a character takes at 7 pt: a full-width one (kana, kanji), a half-width one
(digits, Latin): a 受付番号 or a date fits its column, a name in kanji is cut sooner."""


def _mm(text: str) -> float:
    return sum(WIDE_MM if unicodedata.east_asian_width(c) in "FWA" else NARROW_MM
               for c in text)


def _fit(cell: str, width: float) -> str:
    """The cell as it fits in `width` mm, cut with "…" where it does not."""
    room = width - 1.5
    if _mm(cell) <= room:
        return cell
    while cell and _mm(cell) + WIDE_MM > room:
        cell = cell[:-1]
    return cell + "…"


def wrapped(text: str, width: float) -> list[str]:
    """`text` as lines of at most `width` mm, never cutting a word of Latin letters or
    digits (a 受付番号) where a space before it allows."""
    room, lines = width - 1.5, []
    while text:
        end = 0
        while end < len(text) and _mm(text[: end + 1]) <= room:
            end += 1
        end = max(end, 1)  # a character wider than the room still moves on
        if end < len(text) and _in_word(text, end):
            space = text.rfind(" ", 0, end)
            end = space if space > 0 else end
        lines.append(text[:end].rstrip(" "))
        text = text[end:].lstrip(" ")
    return lines


def _in_word(text: str, at: int) -> bool:
    """Whether `at` falls between two characters of one Latin word."""
    return all(c.isascii() and not c.isspace() for c in (text[at - 1], text[at]))


def table_pdf(title: str, lines: Sequence[str], columns: Sequence[tuple[str, float]],
              rows: Sequence[Sequence[str]], notes: Sequence[str] = ()) -> bytes:
    """`columns`: (title, width in millimetres); a cell too long for its column is cut,
    with the whole of it in the CSV beside the report. `notes`, where given, one for each
    row ('' for none): a row's note is printed whole under it, across the page's width, with
    the rule that closes the row under the note."""
    noted = [wrapped(note, NOTE_WIDTH) for note in notes] or [[] for _row in rows]
    chunks = _paged([(row, note) for row, note in zip(rows, noted, strict=True)],
                    len(lines) * 5)
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        page = _Page()
        page.text(105, 16, title, size=14, align="center")
        y = 24.0
        for line in lines if number == 1 else ():
            page.text(LEFT + 2, y, line, size=8.5)
            y += 5
        page.text(RIGHT, y, f"{number}/{len(chunks)}", size=8, align="right")
        y += 3
        page.line(LEFT, y, RIGHT, y)
        x = LEFT
        for name, width in columns:
            page.text(x + 1, y + 5, _fit(name, width), size=7.5)
            x += width
        y += 7
        page.line(LEFT, y, RIGHT, y)
        for row, note in chunk:
            x = LEFT
            for cell, (_name, width) in zip(row, columns, strict=True):
                page.text(x + 1, y + 5, _fit(cell, width), size=7)
                x += width
            y += 7.5
            for text in note:
                page.text(LEFT + NOTE_INDENT, y + 2.5, text, size=7)
                y += NOTE_LINE
            y += 1.5 if note else 0
            page.line(LEFT, y, RIGHT, y, width=0.3)
        pages.append(page)
    return _pdf(pages, title)


NOTE_INDENT, NOTE_LINE = 4.0, 4.0
NOTE_WIDTH = RIGHT - LEFT - NOTE_INDENT - 1
BOTTOM = 287.0
"""The lowest a row's rule may fall on the page (mm from the top)."""


def _paged(rows: list[tuple[Sequence[str], list[str]]], summary: float
           ) -> list[list[tuple[Sequence[str], list[str]]]]:
    """The rows page by page: at most ROWS_PER_PAGE, and no more than the page holds once
    notes take room (the first page also holds the summary's lines)."""
    pages: list[list[tuple[Sequence[str], list[str]]]] = [[]]
    y = 34.0 + summary
    for row, note in rows:
        height = 7.5 + (len(note) * NOTE_LINE + 1.5 if note else 0)
        if pages[-1] and (len(pages[-1]) == ROWS_PER_PAGE or y + height > BOTTOM):
            pages.append([])
            y = 34.0
        pages[-1].append((row, note))
        y += height
    return pages
