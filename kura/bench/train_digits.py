"""`kura bench train-digits`: train the single-cell digit recogniser (`pipeline.digits`) and
write it as ONNX, deterministically (same data, same seed, same weights).

Data: the training part of MNIST (8,000 real handwritten digits; the 2,000 kept for
measuring are never used), each drawn into a cell-sized image and augmented as a scan
changes it (turn, slant, stretch, pen thickness, blur, 1-bit), plus the handwriting fonts
the forms are filled with, augmented the same way. Every sample passes through
`pipeline.digits.prepare`, exactly as a cell does when the pipeline reads it.

Model: 784 → 256 (ReLU) → 10 (softmax), weights kept in half precision, trained with Adam
in numpy; written with the `onnx` package (the `train` extra), read with onnxruntime
(already a runtime dependency).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from kura.bench.synth import mnist
from pipeline import digits
from pipeline.fonts import HANDWRITING_FONTS, font

HIDDEN = 256
EPOCHS = 14
BATCH = 128
LEARNING_RATE = 2e-3
AUGMENTED_COPIES = 10
FONT_SAMPLES_PER_DIGIT = 400
CELL = 96
"""Side of the cell image a sample is drawn into (a 300 dpi cell is 80–110 px)."""


@dataclass
class Trained:
    path: Path
    train_samples: int
    measure_accuracy: float
    """Per-cell accuracy on the MNIST part kept for measuring (drawn the same way)."""
    measure_samples: int
    bytes: int


def _draw(mask: np.ndarray, rng: np.random.Generator, augment: bool) -> np.ndarray:
    """An ink mask (255 = ink) drawn into a white cell, as a scan of it would look."""
    cell: np.ndarray
    height = rng.uniform(0.55, 0.8) * CELL if augment else 0.7 * CELL
    scale = height / mask.shape[0]
    sx = scale * (rng.uniform(0.8, 1.2) if augment else 1.0)
    big = cv2.resize(mask, (max(2, round(mask.shape[1] * sx)), max(2, round(height))))
    cell = np.zeros((CELL * 2, CELL * 2), np.uint8)
    top, left = (cell.shape[0] - big.shape[0]) // 2, (cell.shape[1] - big.shape[1]) // 2
    cell[top : top + big.shape[0], left : left + big.shape[1]] = big
    if augment:
        angle, shear = rng.uniform(-12, 12), rng.uniform(-0.25, 0.25)
        matrix = cv2.getRotationMatrix2D((CELL, CELL), angle, 1.0)
        matrix[0, 1] += shear
        matrix[0, 2] -= shear * CELL
        cell = cv2.warpAffine(cell, matrix, cell.shape[::-1])
        if rng.random() < 0.7:
            cell = _elastic(cell, rng)
        thickness = int(rng.integers(-1, 4))
        kernel = np.ones((3, 3), np.uint8)
        if thickness > 0:
            cell = cv2.dilate(cell, kernel, iterations=thickness)
        elif thickness < 0:
            eroded = cv2.erode(cell, kernel)
            cell = eroded if eroded.max() > 100 else cell
        if rng.random() < 0.5:
            cell = cv2.GaussianBlur(cell, (0, 0), rng.uniform(0.5, 1.5))
    gray = 255 - cell
    if augment and rng.random() < 0.25:  # a 1-bit scan
        gray = np.where(gray < rng.integers(120, 200), 0, 255).astype(np.uint8)
    return gray


def _elastic(cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth random warp of the strokes (Simard et al.'s elastic distortion): the
    wobble of a hand, which no affine change gives."""
    size = cell.shape[::-1]
    coarse = rng.uniform(-1, 1, (2, 6, 6)).astype(np.float32) * rng.uniform(3, 8)
    dx = cv2.resize(coarse[0], size, interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(coarse[1], size, interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    return cv2.remap(cell, xs + dx, ys + dy, cv2.INTER_LINEAR)


def _font_mask(digit: str, path: Path) -> np.ndarray:
    face = font(path, 80)
    image = Image.new("L", (120, 120), 0)
    ImageDraw.Draw(image).text((60, 60), digit, font=face, fill=255, anchor="mm")
    pixels = np.asarray(image)
    rows, cols = np.where(pixels.any(axis=1))[0], np.where(pixels.any(axis=0))[0]
    return pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _samples(
    masks: list[tuple[np.ndarray, int]], copies: int, rng: np.random.Generator, augment: bool
) -> tuple[np.ndarray, np.ndarray]:
    inputs, labels = [], []
    for mask, label in masks:
        for _ in range(copies):
            prepared = digits.prepare(_draw(mask, rng, augment))
            if prepared is not None:
                inputs.append(prepared)
                labels.append(label)
    return np.stack(inputs).astype(np.float32), np.array(labels, np.int64)


def _mnist_masks(part: str) -> list[tuple[np.ndarray, int]]:
    images, labels = mnist.load()
    masks = []
    for index in mnist.split(part):
        image = images[index]
        rows, cols = np.where(image.any(axis=1))[0], np.where(image.any(axis=0))[0]
        masks.append((image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], int(labels[index])))
    return masks


def training_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x_real, y_real = _samples(_mnist_masks("train"), AUGMENTED_COPIES, rng, augment=True)
    fonts = [(_font_mask(str(d), path), d) for path in HANDWRITING_FONTS for d in range(10)]
    copies = max(1, FONT_SAMPLES_PER_DIGIT // len(HANDWRITING_FONTS))
    x_font, y_font = _samples(fonts, copies, rng, augment=True)
    return np.concatenate([x_real, x_font]), np.concatenate([y_real, y_font])


def _train(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Callable[[str], None]
) -> list[np.ndarray]:
    w1 = (rng.standard_normal((x.shape[1], HIDDEN)) * np.sqrt(2 / x.shape[1])).astype(np.float32)
    b1 = np.zeros(HIDDEN, np.float32)
    w2 = (rng.standard_normal((HIDDEN, 10)) * np.sqrt(2 / HIDDEN)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        rate = LEARNING_RATE * (0.5 ** (epoch / 5))
        loss_sum = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            xb, yb = x[batch], y[batch]
            hidden = np.maximum(xb @ w1 + b1, 0)
            logits = hidden @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            loss_sum += float(-np.log(probs[np.arange(len(yb)), yb] + 1e-9).sum())
            grad = probs
            grad[np.arange(len(yb)), yb] -= 1
            grad /= len(yb)
            g_w2 = hidden.T @ grad + 1e-5 * w2
            g_b2 = grad.sum(axis=0)
            back = (grad @ w2.T) * (hidden > 0)
            g_w1 = xb.T @ back + 1e-5 * w1
            g_b1 = back.sum(axis=0)
            step += 1
            for p, g, m, v in zip(params, (g_w1, g_b1, g_w2, g_b2), moments, squares, strict=True):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                p -= rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        progress(f"epoch {epoch + 1}/{EPOCHS}: loss {loss_sum / len(x):.4f}")
    return params


def _write_onnx(params: list[np.ndarray], path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1, b1, w2, b2 = (p.astype(np.float16) for p in params)
    graph = helper.make_graph(
        [
            # weights are stored in half precision (half the file), computed in single
            *(
                helper.make_node("Cast", [name], [name + "_f"], to=TensorProto.FLOAT)
                for name in ("w1", "b1", "w2", "b2")
            ),
            helper.make_node("MatMul", ["cells", "w1_f"], ["h1"]),
            helper.make_node("Add", ["h1", "b1_f"], ["h2"]),
            helper.make_node("Relu", ["h2"], ["h3"]),
            helper.make_node("MatMul", ["h3", "w2_f"], ["l1"]),
            helper.make_node("Add", ["l1", "b2_f"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["digits"], axis=1),
        ],
        "kura_digits",
        [helper.make_tensor_value_info("cells", TensorProto.FLOAT, ["n", 784])],
        [helper.make_tensor_value_info("digits", TensorProto.FLOAT, ["n", 10])],
        [
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="kura bench train-digits",
        doc_string="Single-cell digit recogniser. Trained on the MNIST test set's training "
        "part (C. Cortes, Y. LeCun, C. Burges; CC BY-SA 3.0) and the handwriting fonts.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())


def train(
    out: Path = digits.MODEL, seed: int = 0, progress: Callable[[str], None] = print
) -> Trained:
    random.seed(seed)
    rng = np.random.default_rng(seed)
    x, y = training_data(rng)
    progress(f"{len(x)} training samples")
    params = _train(x, y, rng, progress)
    _write_onnx(params, out)
    digits._session.cache_clear()
    x_m, y_m = _samples(_mnist_masks("measure"), 1, np.random.default_rng(seed + 1), augment=False)
    predicted = np.argmax(digits.probabilities(x_m), axis=1)
    accuracy = float((predicted == y_m).mean())
    return Trained(out, len(x), round(accuracy, 4), len(y_m), out.stat().st_size)
