"""`kura bench train-variants`: train the variant-kanji networks (`pipeline.variants`), one
per family, and write their weights, deterministically (same fonts, same seed, same weights).

Data: each form of each family drawn from the installed Japanese fonts — printed (IPA, IPAex,
Ume, VL, Noto CJK, M+, Motoya L Cedar) and handwriting-like (Klee One Regular and SemiBold) —
then changed as a pen and a scanner change writing: stroke width, slant, rotation, squeeze,
size, blur, noise, 1-bit. The Seto font, one of the three
faces the benchmark's generator writes names with (`pipeline.fonts.HANDWRITING_FONTS`), is
kept out of training so that accuracy on it measures writing the networks never saw.

Model per family: SIDE·SIDE → one hidden layer (ReLU) → its forms, trained by
`kura.bench.mlp` (one thread of arithmetic, fixed seeds); float16 arrays in one .npz.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kura.bench.mlp import Schedule, one_thread, train_mlp
from pipeline import variants
from pipeline.fonts import font
from schemas.calibration import calibration

FONTS = Path("/usr/share/fonts")
TRAINED_FONTS: dict[str, Path] = {
    "IPAex Gothic": FONTS / "opentype/ipaexfont-gothic/ipaexg.ttf",
    "IPAex Mincho": FONTS / "opentype/ipaexfont-mincho/ipaexm.ttf",
    "IPA Gothic": FONTS / "opentype/ipafont-gothic/ipag.ttf",
    "IPA Mincho": FONTS / "opentype/ipafont-mincho/ipam.ttf",
    "Ume Gothic": FONTS / "truetype/horai-umefont/ume-hgo4.ttf",
    "Ume Mincho": FONTS / "truetype/horai-umefont/ume-tmo3.ttf",
    "VL Gothic": FONTS / "truetype/vlgothic/VL-Gothic-Regular.ttf",
    "Noto Sans CJK JP": FONTS / "opentype/noto/NotoSansCJK-Regular.ttc",
    "Noto Sans CJK JP Bold": FONTS / "opentype/noto/NotoSansCJK-Bold.ttc",
    "Noto Serif CJK JP": FONTS / "opentype/noto/NotoSerifCJK-Regular.ttc",
    "M+ 1 Regular": FONTS / "opentype/mplus/Mplus1-Regular.otf",
    "M+ 2 Bold": FONTS / "opentype/mplus/Mplus2-Bold.otf",
    "M+ 1 Black": FONTS / "opentype/mplus/Mplus1-Black.otf",
    "M+ 2 ExtraBold": FONTS / "opentype/mplus/Mplus2-ExtraBold.otf",
    "Motoya L Cedar": FONTS / "truetype/motoya-l-cedar/MTLc3m.ttf",
    "Klee One Regular": FONTS / "truetype/klee/KleeOne-Regular.ttf",
    "Klee One SemiBold": FONTS / "truetype/klee/KleeOne-SemiBold.ttf",
}
HELD_FONTS: dict[str, Path] = {
    "Seto": FONTS / "truetype/seto/setofont.ttf",
}
PER_FORM = 1500
"""Training glyphs drawn per form of a family."""
MEASURED_PER_FORM = 150
"""Glyphs drawn per form and font to measure on (another seed)."""
SCHEDULE = Schedule(hidden=96, epochs=14, batch=128, rate=2e-3, late_rate=0.3)


@dataclass
class Trained:
    path: Path
    samples: int
    accuracy: dict[str, dict[str, float]]
    """Per font, per family: the share of glyphs read as the form drawn (another seed)."""
    sure_wrong: dict[str, int]
    """Per font: glyphs the networks were at least `sure` of and got wrong."""
    sure_share: dict[str, float]
    """Per font: the share of glyphs the networks were at least `sure` of."""
    bytes: int


def _has_glyph(face: ImageFont.FreeTypeFont, ch: str) -> bool:
    """Whether the face draws `ch` itself, not its missing-glyph box."""
    def drawn(text: str) -> bytes:
        image = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(image).text((4, 4), text, font=face, fill=255)
        return image.tobytes()
    return drawn(ch) != drawn("\U0010fffd")


def draw_glyph(ch: str, font_path: Path, rng: random.Random) -> np.ndarray:
    """One character as a person writes it and a scanner sees it: gray, dark ink on white."""
    em = rng.randint(40, 72)
    face = font(font_path, em)
    canvas = Image.new("L", (em * 2, em * 2), 0)
    ImageDraw.Draw(canvas).text((em // 2, em // 2), ch, font=face, fill=255)
    ink: np.ndarray = np.asarray(canvas, np.float32) / 255.0
    weight = round(rng.uniform(-0.03, 0.09) * em)  # a fine pen to a felt-tip
    if weight:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (abs(weight) + 1,) * 2)
        ink = cv2.dilate(ink, kernel) if weight > 0 else cv2.erode(ink, kernel)
    angle = np.radians(rng.uniform(-6, 6))
    slant, squeeze = rng.uniform(-0.2, 0.25), rng.uniform(0.85, 1.15)
    centre = em
    matrix = np.array([[np.cos(angle) * squeeze, -np.sin(angle) + slant, 0.0],
                       [np.sin(angle), np.cos(angle), 0.0]], np.float32)
    matrix[:, 2] = centre - matrix[:, :2] @ np.array([centre, centre], np.float32)
    ink = cv2.warpAffine(ink, matrix, (em * 2, em * 2), flags=cv2.INTER_LINEAR)
    page: np.ndarray = 250.0 - ink * rng.uniform(170, 225)
    scale = rng.uniform(28, 64) / em
    page = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    blur = rng.uniform(0.0, 1.1)
    if blur > 0.3:
        page = cv2.GaussianBlur(page, (0, 0), blur)
    page = page + np.random.default_rng(rng.getrandbits(32)).normal(
        0, rng.uniform(0, 8), page.shape).astype(np.float32)
    if rng.random() < 0.33:
        page = np.where(page < rng.uniform(140, 190), 0.0, 255.0)
    return np.clip(page, 0, 255).astype(np.uint8)


def samples(family: str, fonts: dict[str, Path], per_form: int, seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Features and form indices of `per_form` glyphs of each form of `family`, each drawn
    in a font (of `fonts`) that has it."""
    rng = random.Random(f"{seed}:{family}:{','.join(sorted(fonts))}")
    features, labels = [], []
    for label, ch in enumerate(family):
        having = [path for path in fonts.values() if _has_glyph(font(path, 48), ch)]
        for _ in range(per_form if having else 0):
            seen = variants.glyph_features(draw_glyph(ch, rng.choice(having), rng))
            if seen is not None:
                features.append(seen)
                labels.append(label)
    if not features:
        return np.zeros((0, variants.SIDE**2), np.float32), np.zeros(0, np.int64)
    return np.stack(features).astype(np.float32), np.array(labels)


def train(out: Path = variants.MODEL, seed: int = 0,
          progress: Callable[[str], None] = lambda _: None) -> Trained:
    families = calibration().variant_classifier.families
    arrays: dict[str, np.ndarray] = {"families": np.array(families)}
    count = 0
    for index, family in enumerate(families):
        x, y = samples(family, TRAINED_FONTS, PER_FORM, seed)
        count += len(x)
        with one_thread():
            params = train_mlp(x, y, len(family), SCHEDULE, seed + index)
        arrays |= {f"{index}_{k}": v.astype(np.float16) for k, v in params.items()}
        progress(f"{family}: {len(x)} glyphs trained")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    variants._weights.cache_clear()
    sure = calibration().variant_classifier.sure
    accuracy: dict[str, dict[str, float]] = {}
    sure_wrong: dict[str, int] = {}
    sure_share: dict[str, float] = {}
    for name, path in {**HELD_FONTS, **TRAINED_FONTS}.items():
        right = wrong_sure = sure_count = total = 0
        accuracy[name] = {}
        for family in families:
            x, y = samples(family, {name: path}, MEASURED_PER_FORM, seed + 1000)
            if not len(x):
                continue
            probs = variants.family_probabilities(family, x, out)
            best = probs.argmax(axis=1)
            accuracy[name][family] = float((best == y).mean())
            confident = probs.max(axis=1) >= sure
            right += int((best == y).sum())
            total += len(y)
            sure_count += int(confident.sum())
            wrong_sure += int((confident & (best != y)).sum())
        sure_wrong[name], sure_share[name] = wrong_sure, sure_count / max(total, 1)
        progress(f"{name}: {100 * right / max(total, 1):.1f} % right, "
                 f"{100 * sure_share[name]:.1f} % sure, {wrong_sure} sure and wrong")
    return Trained(out, count, accuracy, sure_wrong, sure_share, out.stat().st_size)
