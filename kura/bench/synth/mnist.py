"""Real handwritten digits: the MNIST test set in `../shared/data/mnist/` (CC BY-SA 3.0, see its
README), split once and for all into a part for training the digit recogniser and a part
kept for measuring (the benchmark's real-digit corpus), which no training ever sees.
"""

from __future__ import annotations

import gzip
import os
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

NUMBER_JOINS = "-"
"""What is written between the digits of a freehand number (090-1234-5678, 123-4567)."""
TOUCH_RATE = 0.15
"""Neighbouring real digits of a freehand number whose ink boxes meet."""
OVERLAP_RATE = 0.03
"""Neighbouring real digits of a freehand number that run slightly into each other."""
MEASURE_EVERY = 5
"""Every fifth sample (index % 5 == 0: 2,000 digits) is kept for measuring only."""
IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


class MnistMissing(FileNotFoundError):
    pass


def mnist_dir() -> Path:
    """`$KURA_MNIST_DIR`, else `shared/data/mnist` beside or inside the repository."""
    if os.environ.get("KURA_MNIST_DIR"):
        return Path(os.environ["KURA_MNIST_DIR"])
    root = Path(__file__).resolve().parents[3]
    for candidate in (root.parent / "shared", root / "shared"):
        if (candidate / "data" / "mnist" / IMAGES).is_file():
            return candidate / "data" / "mnist"
    raise MnistMissing(
        "the MNIST digits are not in shared/data/mnist beside the repository: "
        "set KURA_MNIST_DIR to the folder holding " + IMAGES
    )


@lru_cache(maxsize=1)
def load() -> tuple[np.ndarray, np.ndarray]:
    """(images 10000×28×28 uint8 with 255 = ink, labels 10000 uint8)."""
    folder = mnist_dir()
    with gzip.open(folder / IMAGES) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / LABELS) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def split(part: str) -> np.ndarray:
    """Indices of the "train" or "measure" part."""
    count = len(load()[1])
    index = np.arange(count)
    kept = index % MEASURE_EVERY == 0
    if part == "measure":
        return index[kept]
    if part == "train":
        return index[~kept]
    raise ValueError(f"no MNIST part {part!r}")


@lru_cache(maxsize=2)
def _by_digit(part: str) -> dict[str, np.ndarray]:
    labels = load()[1]
    indices = split(part)
    return {str(d): indices[labels[indices] == d] for d in range(10)}


def digit_mask(digit: str, rng: random.Random, part: str = "measure") -> Image.Image:
    """A real handwritten `digit` as an ink mask (255 = ink) cut to its ink, from `part`."""
    images = load()[0]
    choices = _by_digit(part)[digit]
    sample = images[choices[rng.randrange(len(choices))]]
    rows, cols = np.where(sample.any(axis=1))[0], np.where(sample.any(axis=0))[0]
    return Image.fromarray(sample[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def written_digit(ch: str, size: float, rng: random.Random) -> Image.Image:
    """A real handwritten digit as an ink mask about as tall as a handwriting font's would be
    at `size`, on a tile with room around it."""
    sample = digit_mask(ch, rng)
    height = size * rng.uniform(0.62, 0.8)
    width = max(2, round(sample.width * height / sample.height))
    mask = sample.resize((width, max(2, round(height))), Image.Resampling.BICUBIC)
    pad = round(size / 2)
    tile = Image.new("L", (mask.width + 2 * pad, mask.height + 2 * pad), 0)
    tile.paste(mask, (pad, pad))
    return tile


def number_gap(size: float, between_digits: bool, rng: random.Random) -> float:
    """The room a person leaves between the ink of two characters of a number, in px:
    mostly apart, about one digit in seven touching its neighbour (the ink boxes meet),
    a few in a hundred running slightly into it. Beside a hyphen always apart."""
    height = size * 0.7  # about a written digit's height (`written_digit`)
    draw = rng.random()
    if between_digits and draw < OVERLAP_RATE:
        return -height * rng.uniform(0.03, 0.1)
    if between_digits and draw < OVERLAP_RATE + TOUCH_RATE:
        return 0.0
    return height * rng.uniform(0.08, 0.4)


def written_smaller(
    placed: list[tuple[Image.Image, float, float]], scale: float
) -> list[tuple[Image.Image, float, float]]:
    """A laid-out line (ink mask, left, vertical offset per character) written `scale` times
    as large."""
    return [
        (
            mask.resize(
                (max(1, round(mask.width * scale)), max(1, round(mask.height * scale))),
                Image.Resampling.BICUBIC,
            ),
            left * scale,
            dy * scale,
        )
        for mask, left, dy in placed
    ]
