"""`kura bench train-kana`: train the half-width kana cell classifier (`pipeline.halfkana`)
and write its weights, deterministically (same fonts, same seed, same weights).

Data: words of random half-width katakana (voicing marks after the kana they voice, a blank
between two words as a proportional face or a line printer prints it) drawn with the
installed Japanese fonts (the `trained` printers' faces of the list generator, IPAex, IPA,
VL and Ume Gothic and Mincho; its `held` faces, Noto CJK and Motoya L Cedar, are kept out to
measure it on print it never saw) at 300 dpi, then degraded as a list
printer and a scanner degrade them: dot-matrix print through a grey ribbon, 200–300 dpi,
blur, noise, 1-bit. Every cell is cut from the word exactly as `pipeline.halfkana` cuts it,
at its true place shifted a little (the reader's layout search is that far off at worst).

Model: CELL_W·CELL_H → one hidden layer (ReLU) → the glyphs and a blank, trained by
`kura.bench.mlp`; written as float16 arrays in an .npz (no ONNX needed to read it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kura.bench.mlp import Schedule, train_mlp
from kura.bench.synth.lists import FACES, PRINTERS, Face
from pipeline import halfkana


def _faces(pool: str) -> tuple[Face, ...]:
    return tuple(FACES[name] for name in sorted({
        name for names in PRINTERS[pool].values() for name in names}))


TRAINED_FACES = _faces("trained")
HELD_FACES = _faces("held")
VOICED = set("ｳｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ")
HALF_VOICED = set("ﾊﾋﾌﾍﾎ")
BASE = [ch for ch in halfkana.GLYPHS if ch not in "ﾞﾟ"]
SCHEDULE = Schedule(hidden=192, epochs=12, batch=256, rate=2e-3, late_rate=0.5)
WORDS = 13000
SHIFT = 0.12
"""How far (share of the pitch) a training cell is cut from its true place."""


@dataclass
class Trained:
    path: Path
    samples: int
    held_accuracy: float
    """Per-cell accuracy on words drawn with a seed kept out of training."""
    held_faces_accuracy: float
    """The same on words drawn in the faces kept out of training."""
    bytes: int


def random_word(rng: random.Random) -> str:
    """Half-width kana as a name is printed: voicing marks after kana that take them, now
    and then a blank between family and given name."""
    out: list[str] = []
    for _ in range(rng.randint(2, 7)):
        ch = rng.choice(BASE)
        out.append(ch)
        if ch in VOICED and rng.random() < 0.35:
            out.append("ﾟ" if ch in HALF_VOICED and rng.random() < 0.5 else "ﾞ")
    if rng.random() < 0.3:
        out.insert(rng.randint(1, len(out) - 1), " ")
    return "".join(out)


def draw_word(word: str, rng: random.Random, faces: tuple[Face, ...] = TRAINED_FACES
              ) -> tuple[np.ndarray, list[tuple[float, str]], float]:
    """A word printed and scanned: (gray image, each glyph's cell left and glyph, pitch)."""
    em = rng.randint(22, 44)
    chosen = rng.choice(faces)
    face = ImageFont.truetype(str(chosen.path), em, index=chosen.index)
    mono = rng.random() < 0.4
    pitch = em / 2
    margin = em
    cells: list[tuple[float, str]] = []
    x = float(margin)
    for ch in word:
        if ch == " ":
            x += pitch if mono else face.getlength(" ")
            continue
        cells.append((x, ch))
        x += pitch
    width, height = int(x + margin), int(em * 2.2)
    ink = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(ink)
    top = em // 2
    for left, ch in cells:
        draw.text((left, top), ch, font=face, fill=255)
    mask = np.asarray(ink, np.float32) / 255.0
    impact = rng.random() < 0.3
    if impact:
        yy, xx = np.mgrid[0:height, 0:width]
        mask = mask * ~(((yy % 4) == 3) & ((xx % 4) == 3))
    level = 60 if impact else 20
    page: np.ndarray = 250.0 - mask * (250.0 - level)
    scale = rng.uniform(200, 300) / 300
    page = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    blur = rng.uniform(0.0, 1.2)
    if blur > 0.3:
        page = cv2.GaussianBlur(page, (0, 0), blur)
    page = page + np.asarray(np.random.default_rng(rng.getrandbits(32)).normal(
        0, rng.uniform(0, 8), page.shape), np.float32)
    if rng.random() < 0.33:
        page = np.where(page < rng.uniform(140, 190), 0.0, 255.0)
    gray = np.clip(page, 0, 255).astype(np.uint8)
    return gray, [(left * scale, ch) for left, ch in cells], pitch * scale


def samples(count: int, seed: int, faces: tuple[Face, ...] = TRAINED_FACES
            ) -> tuple[np.ndarray, np.ndarray]:
    """Cells (features) and their classes from `count` words drawn in `faces`."""
    rng = random.Random(seed)
    features, labels = [], []
    blank = halfkana.CLASSES.index(halfkana.BLANK)
    for _ in range(count):
        gray, cells, pitch = draw_word(random_word(rng), rng, faces)
        ink = halfkana.ink_levels(gray)
        extent = halfkana._word_extent(ink)
        if extent is None:
            continue
        bottom = extent[3]
        for left, ch in cells:
            cut_pitch = pitch * rng.uniform(0.95, 1.05)
            shift = rng.uniform(-SHIFT, SHIFT) * pitch
            features.append(halfkana.cell_features(ink, left + shift, cut_pitch, bottom))
            labels.append(halfkana.CLASSES.index(ch))
        # a cell beside the word (its edge in the margin) and one half a cell off: no glyph,
        # so that the reader's layout search does not settle between two glyphs
        features.append(halfkana.cell_features(
            ink, cells[-1][0] + pitch * rng.uniform(1.2, 1.6), pitch, bottom))
        labels.append(blank)
        left, _ = rng.choice(cells)
        features.append(halfkana.cell_features(
            ink, left + pitch * rng.choice((-1, 1)) * rng.uniform(0.4, 0.6), pitch, bottom))
        labels.append(blank)
    return np.stack(features), np.array(labels)


def train(out: Path = halfkana.MODEL, seed: int = 0,
          progress: Callable[[str], None] = lambda _: None) -> Trained:
    x, y = samples(WORDS, seed)
    progress(f"{len(x)} cells drawn")
    params = train_mlp(x, y, len(halfkana.CLASSES), SCHEDULE, seed, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.astype(np.float16) for k, v in params.items()}
    np.savez_compressed(out, w1=half["w1"], b1=half["b1"], w2=half["w2"], b2=half["b2"])
    halfkana._weights.cache_clear()
    accuracy = []
    for faces in (TRAINED_FACES, HELD_FACES):
        held_x, held_y = samples(600, seed + 1000, faces)
        predicted = halfkana.cell_log_probabilities(held_x, out).argmax(axis=1)
        accuracy.append(float((predicted == held_y).mean()))
    progress(f"per-cell accuracy on words in the faces kept out of training: "
             f"{100 * accuracy[1]:.2f} %")
    return Trained(out, len(x), accuracy[0], accuracy[1], out.stat().st_size)
