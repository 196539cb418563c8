"""The header block of a list page: the values printed above (or below) the table, found by
their labels (市区町村コード, 作成年月日, 対象期間 …), and the printed page number (n/m).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache

import numpy as np

from pipeline import listcells
from pipeline.fields import canonical_text
from pipeline.listgeometry import Line, cell_crop, spans_of
from pipeline.listreading import DATE_CHARACTERS, read_lines
from pipeline.listverdicts import ACCEPT_CONFIDENCE
from pipeline.ocr import PaddleEngine
from schemas.contracts import FieldResult
from schemas.forms import HeaderFieldDef

LABEL_MATCH = 0.74
"""How alike printed text must be to a header block's label (対象期間 read 对象期間)."""


PAGE_NUMBER = (
    re.compile(r"^-?(\d{1,3})/(\d{1,3})[頁页]?-?$"),
    re.compile(r"^[頁页]:?(\d{1,3})[/:](\d{1,3})$"),
)
"""A printed page number: 1/3頁, - 1 / 3 -, 頁：1/3 (spaces and full-width already folded;
after the word 頁 a thin / read as : is still the page's /)."""


def read_header_block(
    engine: PaddleEngine, gray: np.ndarray, text: np.ndarray, lines: list[Line],
    fields: list[HeaderFieldDef]
) -> tuple[dict[str, FieldResult], int | None, int | None]:
    """The values printed above (or below) the table, found by their labels."""
    crops, confidences, where = [], [], []
    for line in lines:
        height = line.bottom - line.top
        for left, right in spans_of(text[line.top : line.bottom].sum(axis=0) > 0,
                                    int(height * 0.8)):
            crop = cell_crop(gray, text, line, left, right)
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
            crop = cell_crop(gray, text, line, where[first][1], where[last][2])
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
