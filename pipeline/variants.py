"""Which form of a name's variant kanji was written (眞 or 真, 髙 or 高, 邉 or 邊, 﨑 or 崎): an
opinion beside PP-OCR, which reads one form for another and cannot write 﨑.

Each pair of forms PP-OCR was seen to mix has a small network of its own (a character cut to
its ink, 32 × 32 → 96, ReLU → the pair's forms), trained on glyphs rendered from the
installed Japanese fonts, printed and handwriting-like, and degraded as pen and scanner
degrade them (`kura bench train-variants`; the weights ship in `pipeline/models/variants.npz`,
nothing is downloaded at run time). The pairs are data (`variant_classifier.families` in
schemas/calibration.yaml). Not among them: 辺 (PP-OCR does not take it for 邊 or 邉, and a
network trained on all three took a heavy hand's 辺 for 邊) and 穂/穗 (on the handwriting
font kept out of training the network was sure of 穗 where 穂 was written): those stay
with a person.

A family may also hold the common kanji PP-OCR writes for a rarer name form it does not
prefer: 嵩嵜嶌寄, since a handwritten 嵜 (山嵜) or 嶌 (寺嶌) is read 嵩 or 寄 and nothing in
the reading says so. Where PP-OCR read such a look-alike in a name, that family's network
decides too; unsure, the field goes to a person (`variant_kanji` on the look-alike), where
before it was accepted wrong. Names only: a 寄 in an address (寄居町) is read as before.

The character is the one PP-OCR located: the name's line is cut between the recogniser's
characters (`pipeline.textlines.characters_of`, as the digit checks cut it). Where the
network is at least `sure` of one form, and that form is one a Japanese system holds in a
name (`lexicon.name_alphabet`), the form stands and the field need not go to a person for
it; anywhere else the reading is left as it was (`variant_kanji`, a person decides).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pipeline import lexicon
from pipeline.crops import cut_tight
from pipeline.rawfield import RawField
from schemas.calibration import calibration

MODEL = Path(__file__).parent / "models" / "variants.npz"
SIDE = 32
"""A character is read at this size, its ink centred in a square."""


def glyph_features(piece: np.ndarray) -> np.ndarray | None:
    """A character (dark ink on white) as the network reads it: cut to its ink, centred in
    a square, SIDE × SIDE, ink 0–1 scaled to its darkest; None where there is no ink."""
    tight = cut_tight(piece, pad=0)
    if tight is None:
        return None
    ink = 255.0 - tight.astype(np.float32)
    height, width = ink.shape
    side = max(height, width)
    square = np.zeros((side, side), np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = ink
    small = cv2.resize(square, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    peak = float(small.max())
    return (small / peak if peak > 0 else small).reshape(-1)


@lru_cache(maxsize=1)
def _weights(path: Path = MODEL) -> dict[str, dict[str, np.ndarray]]:
    """Per family (its forms, standard first), the network's arrays as float32."""
    with np.load(path) as stored:
        families = [str(f) for f in stored["families"]]
        return {
            family: {k: stored[f"{i}_{k}"].astype(np.float32) for k in ("w1", "b1", "w2", "b2")}
            for i, family in enumerate(families)
        }


def family_probabilities(
    family: str, features: np.ndarray, path: Path = MODEL
) -> np.ndarray:
    """For each row of `features`, the probability of each form of `family` (in its order)."""
    params = _weights(path)[family]
    hidden = np.maximum(features @ params["w1"] + params["b1"], 0.0)
    logits = hidden @ params["w2"] + params["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))


@lru_cache(maxsize=1)
def _name_forms() -> frozenset[str]:
    return frozenset(lexicon.name_alphabet())


@lru_cache(maxsize=1)
def _family_of() -> dict[str, str]:
    return {ch: family for family in calibration().variant_classifier.families for ch in family}


def warm_up() -> None:
    """Load the weights and the name forms, so that a worker's first name costs no more."""
    _weights()
    _name_forms()


def settle_variants(raw: RawField) -> RawField:
    """`raw` (a name's reading) with each classified variant character the network is sure
    of written in the form it saw, noted in `variants_seen`, and the recogniser's near misses
    between that character's forms and its doubt there (its probability) dropped. The
    characters are cut where the recogniser located them (`raw.lines_read`). The text stays
    as read where the engine gave no places, where the lines do not read as `raw` did, or
    where the network is unsure; a look-alike left so is noted for a person (`_unsettled`)."""
    family_of = _family_of()
    if any(ch in family_of for ch in raw.nearly_written) and "characters_missing" not in raw.notes:
        # a look-alike nearly written where nothing was: 嵜 dropped (山嵜 read 山太郎)
        raw = replace(raw, notes=(*raw.notes, "characters_missing"))
    if not any(ch in family_of for ch in raw.text):
        return raw
    pieces = [(char, line[:, left:right])  # each character read, and its columns
              for line, located in raw.lines_read for char, left, right, _ in located]
    if "".join(char for char, _ in pieces) != raw.text:
        return _unsettled(raw, raw.text)
    sure = calibration().variant_classifier.sure
    chars, seen, places, unsure = list(raw.text), [], set(), []
    for at, (char, piece) in enumerate(pieces):
        if char not in family_of:
            continue
        features = glyph_features(piece) if piece.size else None
        if features is None:
            unsure.append(char)
            continue
        family = family_of[char]
        probs = family_probabilities(family, features[None])[0]
        best = int(probs.argmax())
        if probs[best] >= sure and family[best] in _name_forms():
            chars[at] = family[best]
            seen.append(family[best])
            places.add(at)
        else:
            unsure.append(char)
    raw = _unsettled(raw, "".join(unsure))
    if not seen:
        return raw
    settled = {family_of[ch] for ch in seen}
    runners_up = tuple(
        (read, nearly, p) for read, nearly, p in raw.runners_up
        if not (family_of.get(read) in settled and family_of.get(nearly) == family_of[read])
    )
    # the recogniser's doubt at a settled character was which form it is: the network
    # answered it, so the field is as sure as its other characters
    others = [c for at, (ch, c) in enumerate(zip(raw.text, raw.char_confidences, strict=False))
              if at not in places and ch != " "]
    confident = len(raw.char_confidences) == len(raw.text) and others
    return replace(raw, text="".join(chars), runners_up=runners_up,
                   variants_seen=tuple(dict.fromkeys(seen)),
                   confidence=min(others) if confident else raw.confidence)


def _unsettled(raw: RawField, read: str) -> RawField:
    """`raw` noted `variant_kanji` at each look-alike of `read` the network did not settle:
    a common kanji (寄, 嵩) PP-OCR writes for a rarer name form, which nothing else sends to
    a person (the forms of `lexicon`'s variant families go there as it is)."""
    family_of = _family_of()
    notes = [f"variant_kanji:{ch}" for ch in dict.fromkeys(read)
             if ch in family_of and not lexicon.variant_characters(ch)]
    return replace(raw, notes=(*raw.notes, *notes)) if notes else raw
