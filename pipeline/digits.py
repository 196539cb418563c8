"""A small recogniser for one handwritten digit in one cell: the second opinion beside PP-OCR
on digit cells.

A small convolutional network (two convolutions with pooling, then 64 → 10; weights in
half precision) on a 28 × 28 normalised cell, trained on real handwriting (the training part
of MNIST, augmented) and the handwriting fonts; the weights ship as ONNX in
`pipeline/models/digits.onnx` and are reproduced by `kura bench train-digits`.
Nothing is downloaded at run time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MODEL = Path(__file__).parent / "models" / "digits.onnx"
SIDE = 28
BOX = 20
"""As MNIST: the digit scaled into a 20 × 20 box, centred by its centre of mass in 28 × 28."""
INK_LEVEL = 60


def prepare(cell: np.ndarray) -> np.ndarray | None:
    """A cell's writing (grey, dark ink on white) as the model's 784 inputs (ink = 1), or
    None when the cell holds no ink."""
    ink = 255.0 - cell.astype(np.float32)
    ink[ink < INK_LEVEL] = 0.0
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size == 0:
        return None
    cut = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = cut.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(cut, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((SIDE, SIDE), np.float32)
    total = float(small.sum())
    if total <= 0:
        return None
    ys, xs = np.mgrid[0 : small.shape[0], 0 : small.shape[1]]
    cy, cx = float((ys * small).sum()) / total, float((xs * small).sum()) / total
    top = round(SIDE / 2 - cy)
    left = round(SIDE / 2 - cx)
    top = min(max(top, 0), SIDE - small.shape[0])
    left = min(max(left, 0), SIDE - small.shape[1])
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    peak = float(canvas.max())
    return (canvas / peak).reshape(-1) if peak > 0 else None


@lru_cache(maxsize=2)
def _session(model: Path = MODEL) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def probabilities(inputs: np.ndarray, model: Path = MODEL) -> np.ndarray:
    """Softmax over the ten digits for each row of `inputs` (N × 784), by the weights in
    `model` (the shipped ones unless another file is named)."""
    session = _session(model)
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: inputs.astype(np.float32)})[0])


def cell_probabilities(cells: list[np.ndarray]) -> list[np.ndarray | None]:
    """The ten digits' probabilities for each cell (None for a cell without ink)."""
    prepared = [prepare(cell) for cell in cells]
    rows = [p for p in prepared if p is not None]
    probs = iter(probabilities(np.stack(rows)) if rows else [])
    return [None if p is None else next(probs) for p in prepared]


def read_cells(cells: list[np.ndarray]) -> list[tuple[str, float]]:
    """The digit in each cell and the model's probability for it ("" for an empty cell)."""
    return [
        ("", 0.0) if p is None else (str(int(np.argmax(p))), float(p.max()))
        for p in cell_probabilities(cells)
    ]
