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
