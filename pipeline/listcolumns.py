"""The header row of a list and where its columns lie: the printed line that names most of
the columns by their header text, and the cuts between neighbouring columns.
"""

from __future__ import annotations

import difflib
import itertools
import unicodedata
from dataclasses import dataclass

import numpy as np

from pipeline.fields import canonical_text
from pipeline.listgeometry import Line, cell_crop, spans_of
from pipeline.listreading import read_lines
from pipeline.ocr import PaddleEngine
from schemas.forms import ColumnDef

HEADER_MATCH = 0.6
"""How alike a read header must be to a column's printed header to name that column."""
MIN_HEADER_SHARE = 0.5
"""A header row names at least this share of the list's columns."""
SURE_HEADER_SHARE = 0.8
"""A line that names this share of the columns is the header row: the search stops."""
HEADER_SEARCH_LINES = 14
MAX_HEADER_WIDTH = 12
"""No column header is wider than this many times its height (a longer run is a rule or
a line of text)."""


def _similarity(read: str, column: ColumnDef) -> float:
    folded = canonical_text(unicodedata.normalize("NFKC", read))
    names = [column.header, *column.aliases]
    return max(
        difflib.SequenceMatcher(None, folded, canonical_text(unicodedata.normalize("NFKC", n)))
        .ratio()
        for n in names
    )


def header_alphabet(columns: list[ColumnDef]) -> str:
    """The characters column headers are printed in: a header row is read with these only
    (so 番号 is not read 器号)."""
    names = [n for c in columns for n in (c.header, *c.aliases)]
    return "".join(sorted({ch for n in names for ch in n} | set("()（）")))


@dataclass(frozen=True)
class HeaderRow:
    index: int
    """Which printed line is the header row."""
    places: dict[str, tuple[int, int]]
    """Column name → (left, right) of its printed header."""


def find_header_row(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    columns: list[ColumnDef]
) -> HeaderRow | None:
    best: HeaderRow | None = None
    for index, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        height = line.bottom - line.top
        chunks = spans_of(text[line.top : line.bottom].sum(axis=0) > 0, int(height * 0.9))
        crops = [cell_crop(gray, text, line, a, b) if b - a < MAX_HEADER_WIDTH * height else None
                 for a, b in chunks]
        kept = [(span, crop) for span, crop in zip(chunks, crops, strict=True)
                if crop is not None]
        if len(kept) < len(columns) * MIN_HEADER_SHARE:
            continue
        readings = read_lines(engine, [crop for _, crop in kept], header_alphabet(columns))
        places: dict[str, tuple[int, int]] = {}
        scores: dict[str, float] = {}
        for (span, _unread), reading in zip(kept, readings, strict=True):
            for column in columns:
                score = _similarity(reading.text, column)
                if score >= HEADER_MATCH and score > scores.get(column.name, 0.0):
                    places[column.name], scores[column.name] = span, score
        if len(places) >= len(columns) * MIN_HEADER_SHARE and (
            best is None or len(places) > len(best.places)
        ):
            best = HeaderRow(index, places)
        if best is not None and len(best.places) >= len(columns) * SURE_HEADER_SHARE:
            break  # the rows below will not name more columns
    return best


def column_bounds(
    header: HeaderRow, text: np.ndarray, vertical: np.ndarray, body: list[Line], width: int
) -> dict[str, tuple[int, int]]:
    """Column name → (left, right) of its cells: between neighbouring headers, at the empty
    gap that runs through every line of the table, or at a vertical rule where one is."""
    order = sorted(header.places.items(), key=lambda item: item[1][0])
    covered = np.zeros(width, bool)
    for line in body:
        covered |= text[line.top : line.bottom].sum(axis=0) > 0
    top = body[0].top if body else 0
    bottom = body[-1].bottom if body else text.shape[0]
    rule_x = vertical[top:bottom].sum(axis=0) > 0.5 * max(1, bottom - top)
    cuts = [0]
    for (_a, (a_left, a_right)), (_b, (b_left, b_right)) in itertools.pairwise(order):
        window = slice(max((a_left + a_right) // 2, cuts[-1] + 1),
                       max((b_left + b_right) // 2, cuts[-1] + 2))
        rules = np.flatnonzero(rule_x[window])
        gaps = spans_of(~covered[window], 0)
        if rules.size:
            cuts.append(window.start + int(rules[len(rules) // 2]))
        elif gaps:
            low, high = max(gaps, key=lambda g: g[1] - g[0])
            cuts.append(window.start + (low + high) // 2)
        else:
            cuts.append((a_right + b_left) // 2)
    cuts.append(width)
    return {name: (cuts[i], cuts[i + 1]) for i, (name, _) in enumerate(order)}
