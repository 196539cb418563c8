"""The recogniser over a list's crops: the characters each column may hold, and reading
many crops in batches of like widths.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pipeline import lexicon
from pipeline.fields import KATAKANA
from pipeline.ocr import PaddleEngine, Reading, get_engine
from schemas.forms import ColumnDef

BATCH = 16
"""Crops read together by the recogniser (sorted by width, so little is padding)."""
HALF_WIDTH_KANA = "".join(chr(c) for c in range(0xFF66, 0xFFA0))
DATE_CHARACTERS = "0123456789元年月日明治大正昭和平成令和MTSHR./"
VOICING_MARKS = "゛゜”\"°"
"""What the recogniser reads a half-width kana's separate (han)dakuten as."""


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
