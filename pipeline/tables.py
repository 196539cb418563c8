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
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline import listcells
from pipeline.cleanup import to_gray
from pipeline.fields import KATAKANA, Normalised, canonical_text
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.contracts import FieldResult
from schemas.forms import ColumnDef, FormDef, HeaderFieldDef

ACCEPT_CONFIDENCE: dict[str, float] = {
    "digits": 0.6, "bpn": 0.7, "kana": 0.6, "date": 0.6, "period": 0.6, "text": 0.7,
}
"""Lowest confidence accepted without a person, per column type (docs/benchmarks.md,
"Result lists")."""
HEADER_MATCH = 0.6
"""How alike a read header must be to a column's printed header to name that column."""
MIN_HEADER_SHARE = 0.5
"""A header row names at least this share of the list's columns."""
HEADER_SEARCH_LINES = 14
HALF_WIDTH_KANA = "".join(chr(c) for c in range(0xFF66, 0xFFA0))
DATE_CHARACTERS = "0123456789元年月日明治大正昭和平成令和MTSHR./"
TOTAL_WORDS = re.compile(r"合計|総件数|件数|計")
TOTAL_COUNT = re.compile(r"(\d+)件")


class ListLayoutError(ValueError):
    """A page that looks like no list: no header row was found on it."""


@dataclass
class Line:
    top: int
    bottom: int


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


# --- Geometry -------------------------------------------------------------------------------

def _ink(gray: np.ndarray) -> np.ndarray:
    """Dark print on the page, with uneven light and paper tone taken out."""
    background = cv2.dilate(gray, np.ones((25, 25), np.uint8))
    level = cv2.divide(gray, background, scale=255)
    return level < 170


def _skew(ink: np.ndarray) -> float:
    """The angle (degrees) that makes the rows of print sharpest."""
    small = cv2.resize(ink.astype(np.uint8) * 255, None, fx=0.25, fy=0.25,
                       interpolation=cv2.INTER_AREA)
    h, w = small.shape
    best, best_angle = -1.0, 0.0
    for angle in np.arange(-3.5, 3.51, 0.25):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        turned = cv2.warpAffine(small, matrix, (w, h))
        score = float(np.var(turned.sum(axis=1, dtype=np.float64)))
        if score > best:
            best, best_angle = score, float(angle)
    fine = best_angle
    for angle in np.arange(best_angle - 0.2, best_angle + 0.21, 0.05):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        score = float(np.var(cv2.warpAffine(small, matrix, (w, h)).sum(axis=1,
                                                                        dtype=np.float64)))
        if score > best:
            best, fine = score, float(angle)
    return fine


def _rotate(image: np.ndarray, angle: float, fill: int) -> np.ndarray:
    if abs(angle) < 0.01:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)


def _rules(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) ruling: runs of ink far longer than any character."""
    mask = ink.astype(np.uint8)
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, 120), np.uint8))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((100, 1), np.uint8))
    return horizontal > 0, vertical > 0


def _lines(text: np.ndarray) -> list[Line]:
    """Printed lines: bands of rows holding text, separated by empty rows."""
    profile = text.sum(axis=1)
    filled = profile >= 3
    lines: list[Line] = []
    start = None
    for y, on in enumerate(filled):
        if on and start is None:
            start = y
        elif not on and start is not None:
            lines.append(Line(start, y))
            start = None
    if start is not None:
        lines.append(Line(start, len(filled)))
    merged: list[Line] = []
    for line in lines:
        if merged and line.top - merged[-1].bottom <= 3:
            merged[-1].bottom = line.bottom
        else:
            merged.append(line)
    heights = [ln.bottom - ln.top for ln in merged]
    if not heights:
        return []
    tall = float(np.median([h for h in heights if h >= 8] or heights))
    return [ln for ln in merged if ln.bottom - ln.top >= max(8, 0.35 * tall)]


def _spans(columns_on: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of True in a 1-D mask, joined across gaps of at most `gap` False."""
    spans: list[tuple[int, int]] = []
    xs = np.flatnonzero(columns_on)
    if xs.size == 0:
        return spans
    start = prev = int(xs[0])
    for x in xs[1:]:
        if x - prev - 1 > gap:
            spans.append((start, prev + 1))
            start = int(x)
        prev = int(x)
    spans.append((start, prev + 1))
    return spans


def _crop(gray: np.ndarray, text: np.ndarray, line: Line, left: int, right: int
          ) -> np.ndarray | None:
    """The cell's print, trimmed to its ink with a margin, or None when it is empty."""
    band = text[line.top : line.bottom, left:right]
    cols = np.flatnonzero(band.sum(axis=0) >= 1)
    if cols.size == 0 or band.sum() < 12:
        return None
    height = line.bottom - line.top
    pad = max(4, height // 4)
    x0 = max(0, left + int(cols[0]) - pad)
    x1 = min(gray.shape[1], left + int(cols[-1]) + 1 + pad)
    y0 = max(0, line.top - pad)
    y1 = min(gray.shape[0], line.bottom + pad)
    return gray[y0:y1, x0:x1]


# --- Reading ---------------------------------------------------------------------------------

def column_alphabet(column: ColumnDef) -> str | None:
    if column.vocabulary:
        return "".join(sorted({ch for value in column.vocabulary for ch in value}))
    if column.type == "digits":
        return "0123456789"
    if column.type == "bpn":
        return "0123456789-"
    if column.type == "kana":
        return KATAKANA + HALF_WIDTH_KANA + "゛゜"
    if column.type == "date":
        return DATE_CHARACTERS
    if column.type == "period":
        return DATE_CHARACTERS + "～"
    return None


def _similarity(read: str, column: ColumnDef) -> float:
    folded = canonical_text(unicodedata.normalize("NFKC", read))
    names = [column.header, *column.aliases]
    return max(
        difflib.SequenceMatcher(None, folded, canonical_text(unicodedata.normalize("NFKC", n)))
        .ratio()
        for n in names
    )


@dataclass(frozen=True)
class HeaderRow:
    index: int
    """Which printed line is the header row."""
    places: dict[str, tuple[int, int]]
    """Column name → (left, right) of its printed header."""


def _find_header_row(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    columns: list[ColumnDef]
) -> HeaderRow | None:
    best: HeaderRow | None = None
    for index, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        height = line.bottom - line.top
        chunks = _spans(text[line.top : line.bottom].sum(axis=0) > 0, int(height * 0.9))
        crops = [_crop(gray, text, line, a, b) for a, b in chunks]
        kept = [(span, crop) for span, crop in zip(chunks, crops, strict=True)
                if crop is not None]
        if len(kept) < len(columns) * MIN_HEADER_SHARE:
            continue
        readings = engine.read_lines([crop for _, crop in kept])
        places: dict[str, tuple[int, int]] = {}
        scores: dict[str, float] = {}
        for (span, _), reading in zip(kept, readings, strict=True):
            for column in columns:
                score = _similarity(reading.text, column)
                if score >= HEADER_MATCH and score > scores.get(column.name, 0.0):
                    places[column.name], scores[column.name] = span, score
        if len(places) >= len(columns) * MIN_HEADER_SHARE and (
            best is None or len(places) > len(best.places)
        ):
            best = HeaderRow(index, places)
    return best


def _boundaries(
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
    for (_, (a_left, a_right)), (_, (b_left, b_right)) in zip(order, order[1:], strict=False):
        window = slice(max((a_left + a_right) // 2, cuts[-1] + 1),
                       max((b_left + b_right) // 2, cuts[-1] + 2))
        rules = np.flatnonzero(rule_x[window])
        gaps = _spans(~covered[window], 0)
        if rules.size:
            cuts.append(window.start + int(rules[len(rules) // 2]))
        elif gaps:
            low, high = max(gaps, key=lambda g: g[1] - g[0])
            cuts.append(window.start + (low + high) // 2)
        else:
            cuts.append((a_right + b_left) // 2)
    cuts.append(width)
    return {name: (cuts[i], cuts[i + 1]) for i, (name, _) in enumerate(order)}


def _decide(column: ColumnDef, reading: Reading | None) -> FieldResult:
    raw = reading.text if reading else ""
    normalised: Normalised = listcells.normalise_cell(column, raw)
    reasons = list(normalised.reasons)
    confidence = reading.confidence if reading else 1.0
    if normalised.value and not reasons and confidence < ACCEPT_CONFIDENCE[column.type]:
        reasons.append("low_confidence")
    return FieldResult(
        value=normalised.value, raw=raw, confidence=round(confidence, 4),
        status="review" if reasons else "accepted", reasons=reasons,
        engine=reading.engine if reading else "",
    )


def _joined(readings: list[Reading]) -> Reading | None:
    """A wrapped cell's lines as one reading (its lowest confidence)."""
    if not readings:
        return None
    return Reading("".join(r.text for r in readings), min(r.confidence for r in readings),
                   readings[0].engine)


def read_list_page(rgb: np.ndarray, form: FormDef, engine_name: str = "ppocr"
                   ) -> ListPageRead:
    """Read one page of a list; ListLayoutError when no header row is found on it either way
    up."""
    engine = get_engine(engine_name)
    if not isinstance(engine, PaddleEngine):
        raise ValueError("lists are read with a PP-OCR engine")
    gray = to_gray(rgb)
    failure = ListLayoutError("no header row of the list was found")
    for rotation in (0, 180):
        turned = gray if rotation == 0 else cv2.rotate(gray, cv2.ROTATE_180)
        try:
            return _read_upright(engine, turned, form, rotation)
        except ListLayoutError as error:
            failure = error
    raise failure


def _read_upright(engine: PaddleEngine, gray: np.ndarray, form: FormDef, rotation: int
                  ) -> ListPageRead:
    columns = form.columns or []
    ink = _ink(gray)
    angle = _skew(ink)
    gray = _rotate(gray, angle, 255)
    ink = _ink(gray)
    horizontal, vertical = _rules(ink)
    text = ink & ~horizontal & ~vertical
    lines = _lines(text)
    header_row = _find_header_row(engine, gray, text, lines, columns)
    if header_row is None:
        raise ListLayoutError("no header row of the list was found")
    body = lines[header_row.index + 1 :]
    places = _boundaries(header_row, text, vertical, body, gray.shape[1])
    by_name = {c.name: c for c in columns if c.name in places}
    marker = next(c for c in columns if c.marks_row)
    reasons = [f"column_not_found:{c.name}" for c in columns if c.name not in places]
    if marker.name not in places:
        raise ListLayoutError(f"the {marker.header} column was not found")

    crops: dict[tuple[int, str], np.ndarray] = {}
    for index, line in enumerate(body):
        for name, (left, right) in places.items():
            crop = _crop(gray, text, line, left, right)
            if crop is not None:
                crops[(index, name)] = crop
    readings: dict[tuple[int, str], Reading] = {}
    for name, column in by_name.items():
        keys = [key for key in crops if key[1] == name]
        alphabet = column_alphabet(column)
        for key, reading in zip(keys, engine.read_lines([crops[k] for k in keys], alphabet),
                                strict=True):
            readings[key] = reading
    marker_keys = [key for key in crops if key[1] == marker.name]
    free = dict(zip(marker_keys, engine.read_lines([crops[k] for k in marker_keys]),
                    strict=True))

    rows: list[dict[str, list[Reading]]] = []
    printed_total = None
    end = len(body)
    for index, line in enumerate(body):
        first = free.get((index, marker.name))
        if first is not None and TOTAL_WORDS.search(first.text):
            whole = engine.read_lines([gray[line.top : line.bottom, :]])[0].text
            count = TOTAL_COUNT.search(unicodedata.normalize("NFKC", whole).replace(" ", ""))
            printed_total = int(count[1]) if count else None
            if count is None:
                reasons.append("total_unreadable")
            end = index
            break
        if (index, marker.name) in readings:
            rows.append({})
        elif not rows:
            continue  # print between the header and the first row: not part of a row
        for name in places:
            if (index, name) in readings:
                rows[-1].setdefault(name, []).append(readings[(index, name)])
    footer = body[end + 1 :] if printed_total is not None or end < len(body) else []
    header_values, page, of = _header_block(
        engine, gray, text, lines[: header_row.index] + footer, form.header or [])
    decided = [
        {c.name: _decide(c, _joined(row.get(c.name, []))) for c in columns if c.name in places}
        for row in rows
    ]
    return ListPageRead(header_values, decided, page, of, printed_total, rotation, reasons)


PAGE_NUMBER = (re.compile(r"^-?(\d{1,3})/(\d{1,3})頁?-?$"), re.compile(r"^頁:?(\d{1,3})/(\d{1,3})$"))


def _header_block(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    fields: list[HeaderFieldDef]
) -> tuple[dict[str, FieldResult], int | None, int | None]:
    """The values printed above (or below) the table, found by their labels."""
    crops, confidences = [], []
    for line in lines:
        height = line.bottom - line.top
        for left, right in _spans(text[line.top : line.bottom].sum(axis=0) > 0,
                                  int(height * 0.8)):
            crop = _crop(gray, text, line, left, right)
            if crop is not None:
                crops.append(crop)
    readings = engine.read_lines(crops)
    tokens = [unicodedata.normalize("NFKC", r.text).replace(" ", "") for r in readings]
    confidences = [r.confidence for r in readings]
    labels = [unicodedata.normalize("NFKC", lab) for f in fields
              for lab in (f.label, *f.aliases) if f.type != "page"]
    values: dict[str, FieldResult] = {}
    page = of = None
    for token in tokens:
        for pattern in PAGE_NUMBER:
            if match := pattern.match(token):
                page, of = int(match[1]), int(match[2])
    for definition in fields:
        if definition.type == "page":
            continue
        found = _after_label(tokens, definition, labels)
        if found is None:
            values[definition.name] = FieldResult(
                value="", raw="", confidence=0.0, status="review", reasons=["not_found"])
        else:
            text, index = found
            values[definition.name] = _decide_header(definition, text, confidences[index])
    return values, page, of


def _after_label(tokens: list[str], definition: HeaderFieldDef, labels: list[str]
                 ) -> tuple[str, int] | None:
    """The text after the field's label up to the next label (and which token held it), or
    None when the label is not printed."""
    for label in (definition.label, *definition.aliases):
        label = unicodedata.normalize("NFKC", label)
        for index, token in enumerate(tokens):
            at = token.find(label)
            if at < 0 or any(len(other) > len(label) and other in token and
                             token.find(other) <= at for other in labels):
                continue
            rest = token[at + len(label) :].lstrip(":")
            if not rest and index + 1 < len(tokens):
                index += 1
                rest = tokens[index]
            stops = [s for s in (rest.find(other) for other in labels) if s > 0]
            return (rest[: min(stops)] if stops else rest).strip(":"), index
    return None


def _decide_header(definition: HeaderFieldDef, text: str, confidence: float) -> FieldResult:
    if definition.type == "municipality_code":
        value = re.sub(r"\D", "", text)
        reasons = listcells.municipality_code_reasons(value)
    elif definition.type == "date":
        normalised = listcells.parse_date(text, "令和")
        value, reasons = normalised.value, list(normalised.reasons)
    elif definition.type == "period":
        normalised = listcells.parse_period(text, "令和")
        value, reasons = normalised.value, list(normalised.reasons)
    else:
        value, reasons = canonical_text(text), []
    if not value and not reasons:
        reasons = ["empty"]
    if value and not reasons and confidence < ACCEPT_CONFIDENCE["text"]:
        reasons.append("low_confidence")
    return FieldResult(value=value, raw=text, confidence=round(confidence, 4),
                       status="review" if reasons else "accepted", reasons=reasons,
                       engine="ppocr")
