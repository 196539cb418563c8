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
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from pipeline import halfkana, lexicon, listcells
from pipeline.cleanup import to_gray
from pipeline.fields import KATAKANA, Normalised, canonical_text
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.contracts import DocumentResult, FieldResult, PageResult
from schemas.errors import InvalidInput
from schemas.forms import ColumnDef, FormDef, HeaderFieldDef
from schemas.i18n import _
from schemas.normalise import to_katakana

ACCEPT_CONFIDENCE: dict[str, float] = {
    "digits": 0.6, "bpn": 0.7, "kana": 0.85, "date": 0.6, "period": 0.6, "text": 0.97,
}
"""Lowest confidence accepted without a person, per column type (docs/benchmarks.md,
"Printed result lists"; kana raised from 0.75 on the tuning lists, seed 5: the misread names
left accepted were read at 0.77–0.92, small kana and ソ/フ)."""
HALF_WIDTH_ENGINE = "halfkana"
"""The engine named on a half-width name read cell by cell where PP-OCR read it otherwise."""
SECOND_ENGINE = "ppocr5"
"""The recogniser that must read a free-text cell the same before it is accepted."""
HEADER_MATCH = 0.6
"""How alike a read header must be to a column's printed header to name that column."""
MIN_HEADER_SHARE = 0.5
"""A header row names at least this share of the list's columns."""
VOCABULARY_LIKENESS = 0.5
"""How alike the unconstrained reading must be to the likeliest value of a code column…"""
VOCABULARY_GAP = 4.0
"""…or how close (log-likelihood per character) that value comes to the unconstrained best
path: a value the print does not hold falls far short of it."""
TABLE_END_GAP = 2.6
"""A gap between printed lines this many times their spacing ends the table."""
SURE_HEADER_SHARE = 0.8
"""A line that names this share of the columns is the header row: the search stops."""
BATCH = 16
"""Crops read together by the recogniser (sorted by width, so little is padding)."""
HEADER_SEARCH_LINES = 14
MAX_HEADER_WIDTH = 12
"""No column header is wider than this many times its height (a longer run is a rule or
a line of text)."""
LABEL_MATCH = 0.74
"""How alike printed text must be to a header block's label (対象期間 read 对象期間)."""
HALF_WIDTH_KANA = "".join(chr(c) for c in range(0xFF66, 0xFFA0))
DATE_CHARACTERS = "0123456789元年月日明治大正昭和平成令和MTSHR./"
VOICING_MARKS = "゛゜”\"°"
"""What the recogniser reads a half-width kana's separate (han)dakuten as."""
UNSURE_VOICING = 0.3
"""The confidence of a half-width name whose voicing marks and kana do not add up, or
whose two readings count different characters."""
WORD_GAP = 0.55
"""A gap in a name at least this share of the text's height is the space between words."""
HALF_WIDTH_STRETCH = 2.0
COUNT_FIT_WORDS = 8
"""Words of a column needed to fit its printing pitch…"""
COUNT_TOLERANCE = 0.5
"""…and how far (in pitches) a word's width may stray from the characters read in it."""
HALF_WIDTH_RATIO = 0.8
"""Printed width over height per character under which kana are half-width (about 0.55;
full-width about 1.1)."""
TOTAL_WORDS = re.compile(r"[合計総件]")
TOTAL_ALPHABET = "0123456789合計総件数"
"""The row-marking column is read with these first: digits, or the words of a totals line."""
TOTAL_COUNT = re.compile(r"(\d+)件")


class ListLayoutError(InvalidInput):
    """A page that looks like no list: no header row was found on it."""

    code = "not_a_list"


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
    """(horizontal, vertical) ruling: runs of ink far longer than any character, found on
    ink thickened across the rule so that a rule a little off level still runs unbroken,
    and widened to cover its whole stroke."""
    mask = ink.astype(np.uint8)
    across = cv2.dilate(mask, np.ones((3, 1), np.uint8))
    horizontal = cv2.morphologyEx(across, cv2.MORPH_OPEN, np.ones((1, 120), np.uint8))
    along = cv2.dilate(mask, np.ones((1, 3), np.uint8))
    vertical = cv2.morphologyEx(along, cv2.MORPH_OPEN, np.ones((70, 1), np.uint8))
    grow = np.ones((3, 3), np.uint8)
    return cv2.dilate(horizontal, grow) > 0, cv2.dilate(vertical, grow) > 0


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
    kept = [ln for ln in merged if ln.bottom - ln.top >= max(8, 0.35 * tall)]
    return [part for ln in kept for part in _split_touching(ln, profile, tall)]


def _split_touching(line: Line, profile: np.ndarray, tall: float) -> list[Line]:
    """Two printed lines that smudged print or dots joined: cut at the thinnest row."""
    height = line.bottom - line.top
    if height < 1.7 * tall:
        return [line]
    parts = round(height / tall)
    cuts = [line.top]
    for k in range(1, parts):
        centre = line.top + round(k * height / parts)
        window = profile[centre - int(tall * 0.3) : centre + int(tall * 0.3)]
        cuts.append(centre - int(tall * 0.3) + int(np.argmin(window)))
    cuts.append(line.bottom)
    return [Line(a, b) for a, b in itertools.pairwise(cuts) if b - a >= 0.35 * tall]


def _spans(columns_on: np.ndarray | np.bool_, gap: int) -> list[tuple[int, int]]:
    """Runs of True in a 1-D mask, joined across gaps of at most `gap` False."""
    spans: list[tuple[int, int]] = []
    xs = np.flatnonzero(np.asarray(columns_on))
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
        return KATAKANA + HALF_WIDTH_KANA + VOICING_MARKS + " "
    if column.type == "date":
        return DATE_CHARACTERS
    if column.type == "period":
        return DATE_CHARACTERS + "～"
    return japanese_alphabet()


@lru_cache(maxsize=1)
def japanese_alphabet() -> str:
    """What a Japanese system prints: the recogniser's characters a municipal system can
    hold (no simplified Chinese forms such as 济 for 済)."""
    characters = get_engine("ppocr")
    assert isinstance(characters, PaddleEngine)
    return "".join(c for c in characters.characters if c and lexicon.is_japanese_char(c))


def _by_width(images: list[np.ndarray]) -> list[list[int]]:
    """Indices of `images` in batches of like widths: a batch is padded to its widest."""
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def read_lines(engine: PaddleEngine, images: list[np.ndarray], alphabet: str | None = None
               ) -> list[Reading]:
    """`engine.read_lines` over batches of like widths, in the order given."""
    found: dict[int, Reading] = {}
    for batch in _by_width(images):
        found.update(zip(batch, engine.read_lines([images[i] for i in batch], alphabet),
                         strict=True))
    return [found[i] for i in range(len(images))]


def probabilities(engine: PaddleEngine, images: list[np.ndarray]
                  ) -> list[tuple[np.ndarray, float]]:
    """`engine.probabilities` over batches of like widths, in the order given."""
    found: dict[int, tuple[np.ndarray, float]] = {}
    for batch in _by_width(images):
        found.update(zip(batch, engine.probabilities([images[i] for i in batch]), strict=True))
    return [found[i] for i in range(len(images))]


def _dark(crop: np.ndarray) -> np.ndarray:
    """The print of a cell's crop, however grey (a worn ribbon): Otsu's threshold."""
    level, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(crop < min(level, 200))


def compose_voicing(text: str) -> str:
    """Kana with the (han)dakuten read as a separate mark joined to the kana before it."""
    out: list[str] = []
    for ch in text:
        mark = "\u3099" if ch in "゛”\"ﾞ" else "\u309a" if ch in "゜°ﾟ" else None
        if mark is None:
            out.append(ch)
            continue
        if out and out[-1] != _unvoiced(out[-1]):
            continue  # the recogniser read the voiced kana and its mark besides
        if out:
            base = unicodedata.normalize("NFKC", out[-1])
            joined = unicodedata.normalize("NFC", base + mark)
            if len(joined) == 1:
                out[-1] = joined
                continue
        out.append(ch)
    return "".join(out)


def _unvoiced(text: str) -> str:
    return unicodedata.normalize(
        "NFC", unicodedata.normalize("NFD", text).replace("\u3099", "").replace("\u309a", ""))


def _printed_half_width(crops: list[np.ndarray], counts: list[int]) -> bool:
    """The list prints its kana half-width: over all the column's cells, the characters are
    about half as wide as they are tall. (One printer prints the whole list one way.)
    `counts`: the characters read in each crop; the larger of the plain and the stretched
    reading, as small half-width print read plainly loses characters and would look wide."""
    width = height = 0.0
    for crop, count in zip(crops, counts, strict=True):
        ink = np.argwhere(_dark(crop))
        if ink.size == 0 or count == 0:
            continue
        width += float(ink[:, 1].max() - ink[:, 1].min() + 1)
        height += float(ink[:, 0].max() - ink[:, 0].min() + 1) * count
    return height > 0 and width / height < HALF_WIDTH_RATIO


def voicing_marks(crop: np.ndarray) -> list[tuple[int, int, str]]:
    """The separate (han)dakuten of half-width kana (ｶﾞ, ﾊﾟ), found by their shape: a
    narrow piece of print in a cell of its own, in the top half of the line only. Each is
    (left, right) in the crop's pixels and the combining mark."""
    ink = _dark(crop)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return []
    top, height = int(rows[0]), int(rows[-1] - rows[0] + 1)
    marks = []
    for left, right in _spans(ink.any(axis=0), 0):
        piece = ink[:, left:right]
        ys = np.flatnonzero(piece.any(axis=1))
        if (right - left > 0.6 * height or ys[-1] > top + 0.5 * height
                or ys[0] > top + 0.2 * height):
            continue
        contours, hierarchy = cv2.findContours(piece.astype(np.uint8), cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)
        ring = len(contours) == 1 and hierarchy is not None and hierarchy[0][0][2] >= 0
        marks.append((left, right, "\u309a" if ring else "\u3099"))
    return marks


def _voiced(reading: Reading, marks: list[tuple[float, str]]) -> Reading:
    """`reading` (with its characters' positions) with each mark (where it stood, as a share
    of the width read, and the combining mark) put on the character to its left; unsure
    when a mark has no character it can voice."""
    chars, confidence = list(reading.text), reading.confidence
    for x, mark in marks:
        before = [i for i, p in enumerate(reading.positions) if p < x]
        if not before:
            confidence = min(confidence, UNSURE_VOICING)
            continue
        index = before[-1]
        if chars[index] != _unvoiced(chars[index]):
            continue  # the recogniser read the voiced kana itself
        joined = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", chars[index]) + mark)
        if len(joined) == 1:
            chars[index] = joined
        else:
            confidence = min(confidence, UNSURE_VOICING)
    text = "".join(chars)
    if sum(ch != _unvoiced(ch) for ch in text) != len(marks):
        confidence = min(confidence, UNSURE_VOICING)
    return Reading(text, confidence, reading.engine, positions=reading.positions)


def _words(crop: np.ndarray) -> list[np.ndarray]:
    """A name's crop cut at the space between family and given name, which the recogniser
    would read as a long-vowel mark (ー)."""
    ink = _dark(crop)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return [crop]
    height = int(rows[-1] - rows[0] + 1)
    spans = _spans(ink.any(axis=0), int(height * WORD_GAP))
    if len(spans) < 2:
        return [crop]
    pad = max(2, height // 4)
    return [crop[:, max(0, a - pad) : min(crop.shape[1], b + pad)] for a, b in spans]


def _read_kana(engine: PaddleEngine, crops: list[np.ndarray], alphabet: str | None
               ) -> list[Reading]:
    """Each name read word by word (see `_read_kana_words`), the words joined."""
    words = [_words(crop) for crop in crops]
    flat = [w for pieces in words for w in pieces]
    read = iter(_read_kana_words(engine, flat, alphabet))
    joined = []
    for pieces in words:
        parts = [next(read) for _ in pieces]
        joined.append(Reading("".join(p.text for p in parts), min(p.confidence for p in parts),
                              parts[0].engine))
    return joined


def _read_kana_words(engine: PaddleEngine, crops: list[np.ndarray], alphabet: str | None
                     ) -> list[Reading]:
    """Kana as printed; half-width kana again stretched to full-width proportions, which
    the recogniser reads far better, except for the separate (han)dakuten, which it drops:
    those are found by their shape and put back."""
    plain = read_lines(engine, crops, alphabet)
    # Stretched, a mark reads as nothing or as noise: it is left to `voicing_marks`.
    # (Whitening the marks first reads worse: the kana beside them are dropped more often.)
    unmarked = "".join(ch for ch in alphabet or "" if ch not in VOICING_MARKS + "ﾞﾟ") or None
    marks = [voicing_marks(crop) for crop in crops]
    wide = read_lines(engine, [cv2.resize(crop, None, fx=HALF_WIDTH_STRETCH, fy=1.0,
                                          interpolation=cv2.INTER_CUBIC) for crop in crops],
                      unmarked)
    chosen = [Reading(compose_voicing(r.text), r.confidence, r.engine) for r in plain]
    counts = [max(len(_unvoiced(c.text)), len(w.text)) for c, w in zip(chosen, wide, strict=True)]
    if not _printed_half_width(crops, counts):
        return _counted(crops, chosen, [len(r.text) for r in chosen])
    for i in range(len(crops)):
        where = [((left + right) / 2 / crops[i].shape[1], mark) for left, right, mark in marks[i]]
        voiced = _voiced(wide[i], where)
        if len(_unvoiced(chosen[i].text)) != len(voiced.text):
            # the plain reading counts other characters: one of the two dropped or added one
            voiced = Reading(voiced.text, min(voiced.confidence, UNSURE_VOICING), voiced.engine)
        chosen[i] = voiced
    # a half-width voicing mark takes a character's place of its own
    counted = _counted(crops, chosen, [len(r.text) + len(found) for r, found
                                       in zip(chosen, marks, strict=True)])
    return [_cell_vote(cells, reading) for cells, reading
            in zip(halfkana.read_words(crops), counted, strict=True)]


def _cell_vote(cells: halfkana.KanaReading | None, line: Reading) -> Reading:
    """A half-width word read again glyph by glyph (`pipeline.halfkana`), beside the line
    recogniser's reading. Where both read the same, the line reading stands as it was (taking
    the surer of the two left 2 names accepted wrong on the tuning lists: both readers can
    make the same mistake); where they differ, the cell reader's kana are kept (it reads small
    half-width print better) and the word waits for a person."""
    if cells is None:
        return Reading(line.text, min(line.confidence, UNSURE_VOICING), line.engine)
    if cells.text == to_katakana(line.text):
        return line
    return Reading(cells.text, min(line.confidence, cells.confidence, UNSURE_VOICING),
                   HALF_WIDTH_ENGINE)


def _counted(crops: list[np.ndarray], readings: list[Reading], places: list[int]
             ) -> list[Reading]:
    """A printer puts kana on a fixed pitch: over a column's words the printed width grows
    by one pitch a character (width ≈ pitch × places + sidebearing, fitted on the column's
    own words). A word whose reading holds a character more or less than its width has
    room for lost or invented one: it is made unsure."""
    widths = []
    for crop in crops:
        columns = np.flatnonzero(_dark(crop).any(axis=0))
        widths.append(float(columns[-1] - columns[0] + 1) if columns.size else 0.0)
    counted = [i for i, n in enumerate(places) if n > 0 and widths[i] > 0]
    if len(counted) < COUNT_FIT_WORDS or len({places[i] for i in counted}) < 2:
        return readings
    x = np.array([places[i] for i in counted], float)
    y = np.array([widths[i] for i in counted])
    pitch, offset = np.polyfit(x, y, 1)
    residual = np.abs(y - (pitch * x + offset))
    inliers = residual <= np.quantile(residual, 0.8)  # fitted again without the misreads
    if inliers.sum() >= 2 and len(set(x[inliers])) >= 2:
        pitch, offset = np.polyfit(x[inliers], y[inliers], 1)
    if pitch <= 0:
        return readings
    out = list(readings)
    for i in counted:
        if abs(widths[i] - (pitch * places[i] + offset)) / pitch > COUNT_TOLERANCE:
            out[i] = Reading(out[i].text, min(out[i].confidence, UNSURE_VOICING), out[i].engine)
    return out


def ctc_log_likelihood(log_probs: np.ndarray, labels: list[int]) -> float:
    """log P(labels | frames) under CTC (blank = output 0): the forward algorithm."""
    extended = [0]
    for label in labels:
        extended += [label, 0]
    ext = np.array(extended)
    size = len(ext)
    can_skip = np.zeros(size, bool)
    can_skip[2:] = (ext[2:] != 0) & (ext[2:] != ext[:-2])
    alpha = np.full(size, -np.inf)
    alpha[0] = log_probs[0, 0]
    if size > 1:
        alpha[1] = log_probs[0, ext[1]]
    for frame in log_probs[1:]:
        stay = alpha
        step = np.concatenate(([-np.inf], alpha[:-1]))
        skip = np.where(can_skip, np.concatenate(([-np.inf, -np.inf], alpha[:-2])), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), skip) + frame[ext]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if size > 1 else alpha[-1])


def _greedy(probs: np.ndarray, characters: list[str]) -> str:
    best = probs.argmax(axis=1)
    out, previous = [], 0
    for index in best:
        if index != 0 and index != previous:
            out.append(characters[index])
        previous = index
    return "".join(out)


def _read_vocabulary(engine: PaddleEngine, crops: list[np.ndarray], column: ColumnDef
                     ) -> list[Reading]:
    """A code column read as the one of its printed values the print is likeliest to be
    (CTC likelihood of each value); the confidence is that value's share of the likelihood
    of all values. When the unconstrained reading is neither like the chosen value nor much
    likelier, the print is something this column is not known to print: that reading is
    kept, for a person."""
    index = {ch: i for i, ch in enumerate(engine.characters)}
    values = [v for v in column.vocabulary if all(ch in index for ch in v)]
    printable = _printable(engine)
    readings = []
    for probs, _chars in probabilities(engine, crops):
        # compared with what a Japanese system can print: 処理済 is not "unlike" 处理济
        probs = np.where(printable, probs, 0.0)
        log_probs = np.log(np.maximum(probs, 1e-12))
        scores = np.array([ctc_log_likelihood(log_probs, [index[c] for c in v]) for v in values])
        best = int(scores.argmax())
        share = float(np.exp(scores[best] - np.logaddexp.reduce(scores)))
        free = lexicon.to_japanese_forms(_greedy(probs, engine.characters))
        greedy_path = float(log_probs.max(axis=1).sum())
        gap = (greedy_path - scores[best]) / len(values[best])
        alike = (difflib.SequenceMatcher(None, free, values[best]).ratio() >= VOCABULARY_LIKENESS
                 or gap <= VOCABULARY_GAP)
        readings.append(Reading(values[best] if alike else free, share, engine.name))
    return readings


@lru_cache(maxsize=2)
def _printable(engine: PaddleEngine) -> np.ndarray:
    """Which of the recogniser's outputs a Japanese system can print (and the blank)."""
    allowed = set(japanese_alphabet())
    return np.array([i == 0 or c in allowed for i, c in enumerate(engine.characters)])


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


def _find_header_row(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    columns: list[ColumnDef]
) -> HeaderRow | None:
    best: HeaderRow | None = None
    for index, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        height = line.bottom - line.top
        chunks = _spans(text[line.top : line.bottom].sum(axis=0) > 0, int(height * 0.9))
        crops = [_crop(gray, text, line, a, b) if b - a < MAX_HEADER_WIDTH * height else None
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
    for (_a, (a_left, a_right)), (_b, (b_left, b_right)) in itertools.pairwise(order):
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


def _decide(column: ColumnDef, reading: Reading | None,
            box: tuple[int, int, int, int] | None = None, *, disputed: bool = False
            ) -> FieldResult:
    raw = reading.text if reading else ""
    normalised: Normalised = listcells.normalise_cell(column, raw)
    reasons = list(normalised.reasons)
    confidence = reading.confidence if reading else 1.0
    if normalised.value and disputed:
        reasons.append("engines_disagree")
    if normalised.value and not reasons and confidence < ACCEPT_CONFIDENCE[column.type]:
        reasons.append("low_confidence")
    return FieldResult(
        value=normalised.value, raw=raw, confidence=round(confidence, 4),
        status="review" if reasons else "accepted", reasons=reasons,
        engine=reading.engine if reading else "", box=box,
    )


def _second_opinion(images: list[np.ndarray], readings: list[Reading]) -> list[bool]:
    """Whether a second recogniser (PP-OCRv5) reads each free-text cell the same. Free text
    has no vocabulary or format to check it by, and a recogniser can drop a character it
    reads the rest of the line around with high confidence (取下げ read 下げ at 0.99)."""
    second = get_engine(SECOND_ENGINE)
    assert isinstance(second, PaddleEngine)
    others = read_lines(second, images, japanese_alphabet())
    return [_folded(mine.text) == _folded(other.text)
            for mine, other in zip(readings, others, strict=True)]


def _folded(text: str) -> str:
    return canonical_text(lexicon.to_japanese_forms(unicodedata.normalize("NFKC", text)))


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
    ink = _ink(gray)
    angle = _skew(ink)
    gray = _rotate(gray, angle, 255)
    ink = _ink(gray)
    horizontal, vertical = _rules(ink)
    text = ink & ~horizontal & ~vertical
    gray = np.where(horizontal | vertical, 255, gray).astype(np.uint8)  # rules out of crops
    lines = _lines(text)
    header_row = _find_header_row(engine, gray, text, lines, columns)
    if header_row is None:
        raise ListLayoutError(_("no header row of the list was found"))
    body = lines[header_row.index + 1 :]
    places = _boundaries(header_row, text, vertical, body, gray.shape[1])
    by_name = {c.name: c for c in columns if c.name in places}
    marker = next(c for c in columns if c.marks_row)
    reasons = [f"column_not_found:{c.name}" for c in columns if c.name not in places]
    if marker.name not in places:
        raise ListLayoutError(_("the {header} column was not found").format(header=marker.header))

    body, footer = _table_lines(body)
    marks = {i: c for i, line in enumerate(body)
             if (c := _crop(gray, text, line, *places[marker.name])) is not None}
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
                      if (c := _crop(gray, text, body[i], left, right)) is not None]
            if pieces:
                cells[(row, name)] = _side_by_side(pieces)
    readings: dict[tuple[int, str], Reading] = {}
    disputed: set[tuple[int, str]] = set()
    for name, column in by_name.items():
        keys = [key for key in cells if key[1] == name]
        images = [cells[k] for k in keys]
        if column.vocabulary:
            read = _read_vocabulary(engine, images, column)
        elif column.type == "kana":
            read = _read_kana(engine, images, column_alphabet(column))
        else:
            read = read_lines(engine, images, column_alphabet(column))
            if column.type == "text":
                disputed |= {key for key, agrees in zip(
                    keys, _second_opinion(images, read), strict=True) if not agrees}
        readings.update(zip(keys, read, strict=True))
    header_values, page, of = _header_block(
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
        {c.name: _decide(c, readings.get((row, c.name)), box(row, c.name),
                         disputed=(row, c.name) in disputed)
         for c in columns if c.name in places}
        for row in range(len(row_lines))
    ]
    return ListPageRead(header_values, decided, page, of, printed_total, rotation, reasons)


PAGE_NUMBER = (
    re.compile(r"^-?(\d{1,3})/(\d{1,3})[頁页]?-?$"),
    re.compile(r"^[頁页]:?(\d{1,3})[/:](\d{1,3})$"),
)
"""A printed page number: 1/3頁, - 1 / 3 -, 頁：1/3 (spaces and full-width already folded;
after the word 頁 a thin / read as : is still the page's /)."""


def _header_block(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    fields: list[HeaderFieldDef]
) -> tuple[dict[str, FieldResult], int | None, int | None]:
    """The values printed above (or below) the table, found by their labels."""
    crops, confidences, where = [], [], []
    for line in lines:
        height = line.bottom - line.top
        for left, right in _spans(text[line.top : line.bottom].sum(axis=0) > 0,
                                  int(height * 0.8)):
            crop = _crop(gray, text, line, left, right)
            if crop is not None:
                crops.append(crop)
                where.append((line, left, right))
    readings = read_lines(engine, crops)
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
    if page is None:
        page, of = _page_number(engine, gray, text, tokens, where)
    for definition in fields:
        if definition.type == "page":
            continue
        found = _after_label(tokens, definition, labels)
        if found is None and definition.type == "municipality_code":
            found = _valid_municipality_code(tokens)
        if found is None:
            values[definition.name] = FieldResult(
                value="", raw="", confidence=0.0, status="review", reasons=["not_found"])
        else:
            value, index = found
            confidence = confidences[index]
            if definition.type in ("municipality_code", "date", "period"):
                # read again with only the characters of labels, numbers and dates: the
                # value's confidence is then not the doubt between ～ and 〜
                again, sure = _read_surely(engine, crops[index], _header_value_alphabet(fields))
                token = unicodedata.normalize("NFKC", again).replace(" ", "")
                refound = _after_label([token], definition, labels)
                if refound is not None and refound[0] == value:
                    confidence = max(confidence, sure)
            values[definition.name] = _decide_header(definition, value, confidence)
    return values, page, of


def _read_surely(engine: PaddleEngine, crop: np.ndarray, alphabet: str) -> tuple[str, float]:
    """The crop read with `alphabet`, and the least sure character's best frame: a character
    printed twice (11) is read over several frames, and the first of the second is shared
    with the blank between them, so the engine's first-frame confidence undersells it."""
    probs, _ = engine.probabilities([crop])[0]
    folded = np.zeros_like(probs)
    for target, sources in _same_characters(engine, alphabet):
        folded[:, target] = probs[:, list(sources)].sum(axis=1)
    probs = folded
    best = probs.argmax(axis=1)
    text: list[str] = []
    sure: list[float] = []
    previous = 0
    for frame, index in enumerate(best):
        if index != 0 and index == previous:
            sure[-1] = max(sure[-1], float(probs[frame, index]))
        elif index != 0:
            text.append(engine.characters[index])
            sure.append(float(probs[frame, index]))
        previous = index
    return "".join(text), min(sure, default=0.0)


WAVE_DASHES = "～〜~"


def _fold_character(ch: str) -> str:
    return "~" if ch in WAVE_DASHES else unicodedata.normalize("NFKC", ch)


@lru_cache(maxsize=8)
def _same_characters(engine: PaddleEngine, alphabet: str
                     ) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """(output, the outputs printed the same as it: ～ 〜 ~, ： :) for the blank and each
    character of `alphabet`."""
    keep: dict[str, int] = {}
    for i, c in enumerate(engine.characters):
        if c and c in alphabet:
            keep.setdefault(_fold_character(c), i)
    groups: dict[int, list[int]] = {0: [0]}
    for i, c in enumerate(engine.characters):
        if c and (target := keep.get(_fold_character(c))) is not None:
            groups.setdefault(target, []).append(i)
    return tuple((target, tuple(sources)) for target, sources in groups.items())


def _header_value_alphabet(fields: list[HeaderFieldDef]) -> str:
    labels = {ch for f in fields for label in (f.label, *f.aliases) for ch in label}
    return "".join(sorted(labels | set(DATE_CHARACTERS + "～:：-")))


PAGE_ALPHABET = "0123456789/頁-:："


def _page_number(engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, tokens: list[str],
                 where: list[tuple[Line, int, int]]) -> tuple[int | None, int | None]:
    """The printed page number where it was not read as one token: a piece that holds 頁, /
    or - is read again with its neighbours on the line and only the characters of page
    numbers (dot print breaks 1/3頁 into pieces: T and 1頁)."""
    for index, token in enumerate(tokens):
        if not (any(mark in token for mark in "頁/-") or len(token) <= 3):
            continue
        line = where[index][0]
        for first, last in ((index, index), (index, index + 1), (index - 1, index),
                            (index - 1, index + 1)):
            if first < 0 or last >= len(where) or not (
                    where[first][0] is line and where[last][0] is line):
                continue
            crop = _crop(gray, text, line, where[first][1], where[last][2])
            if crop is None:
                continue
            read, _ = _read_surely(engine, crop, PAGE_ALPHABET)
            folded = unicodedata.normalize("NFKC", read).replace(" ", "")
            for pattern in PAGE_NUMBER:
                if match := pattern.match(folded):
                    return int(match[1]), int(match[2])
    return None, None


def _find_label(token: str, label: str) -> int:
    """Where `label` is printed in `token` (a character or so misread allowed), else -1."""
    exact = token.find(label)
    if exact >= 0 or len(label) < 3:
        return exact
    for at in range(0, max(1, len(token) - len(label) + 1)):
        window = token[at : at + len(label)]
        if difflib.SequenceMatcher(None, window, label).ratio() >= LABEL_MATCH:
            return at
    return -1


def _valid_municipality_code(tokens: list[str]) -> tuple[str, int] | None:
    """A 6-digit number with a right check digit, where the label itself was misread."""
    for index, token in enumerate(tokens):
        for code in re.findall(r"(?<!\d)\d{6}(?!\d)", token):
            if not listcells.municipality_code_reasons(code):
                return code, index
    return None


def _after_label(tokens: list[str], definition: HeaderFieldDef, labels: list[str]
                 ) -> tuple[str, int] | None:
    """The text after the field's label up to the next label (and which token held it), or
    None when the label is not printed. Labels printed exactly are looked for first, so a
    misread one is never found inside another label (市区町村名 in 市区町村コード)."""
    names = [unicodedata.normalize("NFKC", n) for n in (definition.label, *definition.aliases)]
    for exact in (True, False):
        for label in names:
            for index, token in enumerate(tokens):
                at = token.find(label) if exact else _find_label(token, label)
                if at < 0 or any(other not in names and other in token and
                                 token.find(other) <= at < token.find(other) + len(other)
                                 for other in labels):
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
    # a municipality code carries its check digit: it is trusted like digits, not text
    kind = {"date": "date", "period": "date", "municipality_code": "digits"}.get(
        definition.type, "text")
    if value and not reasons and confidence < ACCEPT_CONFIDENCE[kind]:
        reasons.append("low_confidence")
    return FieldResult(value=value, raw=text, confidence=round(confidence, 4),
                       status="review" if reasons else "accepted", reasons=reasons,
                       engine="ppocr")


# --- Pages into lists ------------------------------------------------------------------------

LIST_KEY = ("municipality_code", "created_date", "period")
"""Header values that name one list: a page whose accepted values differ is another list's."""


def same_list(header: dict[str, FieldResult], page: PageResult, pages: list[PageResult]
              ) -> bool:
    """Whether `page` belongs with a list whose header is `header` and pages `pages` so far:
    the same printed page count and no accepted header value that differs."""
    if pages and page.list_pages is not None and pages[0].list_pages is not None and (
        page.list_pages != pages[0].list_pages
    ):
        return False
    for name in LIST_KEY:
        mine, theirs = header.get(name), page.fields.get(name)
        if (mine and theirs and mine.status == theirs.status == "accepted"
                and mine.value != theirs.value):
            return False
    return True


def add_list_page(documents: list[DocumentResult], pages_of: dict[int, list[PageResult]],
                  source: str, page: PageResult) -> DocumentResult:
    """Put a list page with the list it belongs to (the latest open one of its form with the
    same header), or start a list; returns the list's document."""
    for index in range(len(documents) - 1, -1, -1):
        document = documents[index]
        pages = pages_of.get(index)
        if pages is None or document.form != page.form:
            continue
        starts_again = page.list_page == 1 and any(p.list_page == 1 for p in pages)
        if same_list(document.fields, page, pages) and not starts_again:
            document.pages.append(page.number)
            (document.rows or []).extend(page.rows)
            (document.row_pages or []).extend([page.number] * len(page.rows))
            for name, value in page.fields.items():
                if document.fields.get(name) is None or (
                    document.fields[name].status != "accepted" and value.status == "accepted"
                ):
                    document.fields[name] = value
            pages.append(page)
            return document
    document = DocumentResult(source=source, pages=[page.number], form=page.form,
                              fields=dict(page.fields), rows=list(page.rows),
                              row_pages=[page.number] * len(page.rows),
                              reasons=list(page.reasons))
    documents.append(document)
    pages_of[len(documents) - 1] = [page]
    return document


def check_list(document: DocumentResult, pages: list[PageResult], others: list[int]) -> None:
    """Page numbers, row numbers and the printed total of one assembled list; every gap,
    repeat or mismatch becomes a reason on the document. `others`: file pages of other lists
    met in the same file."""
    reasons = document.reasons
    count = next((p.list_pages for p in pages if p.list_pages), None)
    printed = [p.list_page for p in pages]
    for page in pages:
        if page.list_page is None:
            reasons.append(f"list_page_number_unread:{page.number}")
    seen = [n for n in printed if n is not None]
    for number in sorted({n for n in seen if seen.count(n) > 1}):
        reasons.append(f"list_page_duplicate:{number}")
    if count is not None and len(seen) == len(pages):
        for number in range(1, count + 1):
            if number not in seen:
                reasons.append(f"list_page_missing:{number}")
    if seen != sorted(seen):
        reasons.append("list_page_order")
    reasons.extend(f"list_page_of_another_list:{n}" for n in others)
    _check_row_numbers(document.rows or [])
    numbers = [row["number"].value for row in document.rows or [] if "number" in row]
    previous: int | None = None
    for value in numbers:
        if not value.isdigit():
            previous = None
            continue
        current = int(value)
        if previous is not None and current == previous:
            reasons.append(f"list_row_number_repeated:{current}")
        elif previous is not None and current != previous + 1:
            reasons.append(f"list_row_number_gap:{previous}")
        previous = current
    if numbers and numbers[0].isdigit() and int(numbers[0]) != 1 and 1 in seen:
        reasons.append("list_row_number_gap:0")
    totals = [p.printed_total for p in pages if p.printed_total is not None]
    rows = len(document.rows or [])
    if totals and totals[-1] != rows:
        reasons.append(f"list_row_count:{rows}/{totals[-1]}")


def _check_row_numbers(rows: list[dict[str, FieldResult]]) -> None:
    """A row's printed number follows the row above it or leads to the row below it; an
    accepted number that does neither was misread (77 read 7) or misprinted: it goes to a
    person, with the number its neighbours agree on proposed when they do agree."""
    cells = [row.get("number") for row in rows]
    numbers = [int(c.value) if c is not None and c.value.isdigit() else None for c in cells]
    for index, cell in enumerate(cells):
        if cell is None or cell.status != "accepted":
            continue
        before = numbers[index - 1] if index > 0 else None
        after = numbers[index + 1] if index + 1 < len(numbers) else None
        current = numbers[index]
        if current is None or (before is None and after is None) or (
            before is not None and current == before + 1) or (
            after is not None and current == after - 1):
            continue
        cell.status = "review"
        cell.reasons = [*cell.reasons, "row_number_out_of_sequence"]
        if before is not None and after is not None and before + 2 == after:
            cell.value = str(before + 1)
