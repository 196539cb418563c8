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


def table_pdf(title: str, lines: Sequence[str], columns: Sequence[tuple[str, float]],
              rows: Sequence[Sequence[str]]) -> bytes:
    """`columns`: (title, width in millimetres); a cell too long for its column is cut,
    with the whole of it in the CSV beside the report."""
    chunks = [rows[i : i + ROWS_PER_PAGE] for i in range(0, max(1, len(rows)), ROWS_PER_PAGE)]
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
        for row in chunk:
            x = LEFT
            for cell, (_name, width) in zip(row, columns, strict=True):
                page.text(x + 1, y + 5, _fit(cell, width), size=7)
                x += width
            y += 7.5
            page.line(LEFT, y, RIGHT, y, width=0.3)
        pages.append(page)
    return _pdf(pages, title)
