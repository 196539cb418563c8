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
"""Crops read together by the recogniser (sorted by width, so little is padding)…"""
BATCH_SPREAD = 2.0
"""…and none more than this many times as wide (for its height) as the narrowest."""
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
    """Indices of `images` in batches of like widths: a batch is padded to its widest, and
    a short word padded far past its own width can be read as nothing (番号 beside
    基礎年金番号 in one batch: read '', alone: 番号)."""
    def aspect(i: int) -> float:
        return images[i].shape[1] / max(1, images[i].shape[0])

    batches: list[list[int]] = []
    for i in sorted(range(len(images)), key=aspect):
        if batches and len(batches[-1]) < BATCH and aspect(i) <= BATCH_SPREAD * aspect(
                batches[-1][0]):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


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
