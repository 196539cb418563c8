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

CHANNELS = (16, 32)
"""Feature maps of the two convolutions (5 × 5, then 3 × 3, each followed by 2 × 2 pooling)."""
HIDDEN = 64
EPOCHS = 6
BATCH = 128
LEARNING_RATE = 2e-3
SIDE = digits.SIDE
AUGMENTED_COPIES = 10
FONT_SAMPLES_PER_DIGIT = 400
CELL = 96
"""Side of the cell image a sample is drawn into (a 300 dpi cell is 80–110 px)."""


@dataclass
class Trained:
    path: Path
    train_samples: int
    measure_accuracy: float
    """Per-cell accuracy on the MNIST part kept for measuring, drawn plainly."""
    scanned_accuracy: float
    """The same digits drawn as a scan changes them (the training's augmentation)."""
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
    if augment:  # the pen's pressure: a light hand writes grey
        cell = (cell.astype(np.float32) * rng.uniform(0.55, 1.0)).astype(np.uint8)
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


def _windows(padded: np.ndarray, side: int) -> np.ndarray:
    """Every side × side patch of a batch of images (B, H, W, C) as rows (B·H'·W', C·side²),
    in the (channel, row, column) order of an ONNX Conv kernel."""
    view = np.lib.stride_tricks.sliding_window_view(padded, (side, side), axis=(1, 2))
    return view.reshape(-1, view.shape[3] * side * side)


def _pool(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2 × 2 max pooling of (B, H, W, C), with where each maximum was (for the gradient)."""
    b, h, w, c = z.shape
    blocks = z.reshape(b, h // 2, 2, w // 2, 2, c)
    pooled = blocks.max(axis=(2, 4))
    where = blocks == pooled[:, :, None, :, None, :]
    return pooled, where


def _unpool(grad: np.ndarray, where: np.ndarray) -> np.ndarray:
    b, h, w, c = grad.shape
    return (where * grad[:, :, None, :, None, :]).reshape(b, 2 * h, 2 * w, c)


def _forward(
    params: list[np.ndarray], xb: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    k1, b1, k2, b2, w3, b3, w4, b4 = params
    batch = len(xb)
    image = xb.reshape(batch, SIDE, SIDE, 1)
    cols1 = _windows(np.pad(image, ((0, 0), (2, 2), (2, 2), (0, 0))), 5)
    z1 = (cols1 @ k1 + b1).reshape(batch, SIDE, SIDE, -1)
    p1, where1 = _pool(np.maximum(z1, 0))
    half = SIDE // 2
    cols2 = _windows(np.pad(p1, ((0, 0), (1, 1), (1, 1), (0, 0))), 3)
    z2 = (cols2 @ k2 + b2).reshape(batch, half, half, -1)
    p2, where2 = _pool(np.maximum(z2, 0))
    flat = p2.reshape(batch, -1)
    hidden = np.maximum(flat @ w3 + b3, 0)
    logits = hidden @ w4 + b4
    cache = {"cols1": cols1, "z1": z1, "where1": where1, "cols2": cols2, "z2": z2,
             "where2": where2, "flat": flat, "hidden": hidden}
    return logits, cache


def _gradients(
    params: list[np.ndarray], cache: dict[str, np.ndarray], grad: np.ndarray
) -> list[np.ndarray]:
    """Back-propagation of d loss / d logits through `_forward`."""
    k1, _, k2, _, w3, _, w4, _ = params
    batch, half, channels1 = len(grad), SIDE // 2, k1.shape[1]
    g_w4, g_b4 = cache["hidden"].T @ grad, grad.sum(axis=0)
    back = (grad @ w4.T) * (cache["hidden"] > 0)
    g_w3, g_b3 = cache["flat"].T @ back, back.sum(axis=0)
    d_p2 = (back @ w3.T).reshape(batch, half // 2, half // 2, -1)
    d_z2 = _unpool(d_p2, cache["where2"]) * (cache["z2"] > 0)
    d_z2 = d_z2.reshape(-1, k2.shape[1])
    g_k2, g_b2 = cache["cols2"].T @ d_z2, d_z2.sum(axis=0)
    d_cols2 = (d_z2 @ k2.T).reshape(batch, half, half, channels1, 3, 3)
    d_padded = np.zeros((batch, half + 2, half + 2, channels1), np.float32)
    for row in range(3):
        for col in range(3):
            d_padded[:, row : row + half, col : col + half, :] += d_cols2[..., row, col]
    d_p1 = d_padded[:, 1:-1, 1:-1, :]
    d_z1 = (_unpool(d_p1, cache["where1"]) * (cache["z1"] > 0)).reshape(-1, channels1)
    g_k1, g_b1 = cache["cols1"].T @ d_z1, d_z1.sum(axis=0)
    return [g_k1, g_b1, g_k2, g_b2, g_w3, g_b3, g_w4, g_b4]


def _initial(rng: np.random.Generator) -> list[np.ndarray]:
    def he(fan_in: int, shape: tuple[int, int]) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32)

    flat = (SIDE // 4) ** 2 * CHANNELS[1]
    return [
        he(25, (25, CHANNELS[0])), np.zeros(CHANNELS[0], np.float32),
        he(9 * CHANNELS[0], (9 * CHANNELS[0], CHANNELS[1])), np.zeros(CHANNELS[1], np.float32),
        he(flat, (flat, HIDDEN)), np.zeros(HIDDEN, np.float32),
        he(HIDDEN, (HIDDEN, 10)), np.zeros(10, np.float32),
    ]


def predict(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """The trained network's digit for each row of x, in numpy (checks the ONNX export)."""
    return np.concatenate(
        [np.argmax(_forward(params, x[k : k + 512])[0], axis=1) for k in range(0, len(x), 512)]
    )


def _train(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, progress: Callable[[str], None]
) -> list[np.ndarray]:
    params = _initial(rng)
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        rate = LEARNING_RATE * (0.5 ** (epoch / 2))
        loss_sum = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            logits, cache = _forward(params, x[batch])
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            yb = y[batch]
            loss_sum += float(-np.log(probs[np.arange(len(yb)), yb] + 1e-9).sum())
            probs[np.arange(len(yb)), yb] -= 1
            grads = _gradients(params, cache, probs / len(yb))
            step += 1
            for p, g, m, v in zip(params, grads, moments, squares, strict=True):
                g += 1e-5 * p
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

    k1, b1, k2, b2, w3, b3, w4, b4 = params
    # the numpy kernels are (channel·row·column, out): ONNX wants (out, channel, row, column)
    weights = {
        "k1": k1.T.reshape(CHANNELS[0], 1, 5, 5), "b1": b1,
        "k2": k2.T.reshape(CHANNELS[1], CHANNELS[0], 3, 3), "b2": b2,
        "w3": w3, "b3": b3, "w4": w4, "b4": b4,
    }
    graph = helper.make_graph(
        [
            # weights are stored in half precision (half the file), computed in single
            *(
                helper.make_node("Cast", [name], [name + "_f"], to=TensorProto.FLOAT)
                for name in weights
            ),
            helper.make_node("Reshape", ["cells", "image_shape"], ["image"]),
            helper.make_node("Conv", ["image", "k1_f", "b1_f"], ["c1"], pads=[2, 2, 2, 2]),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("MaxPool", ["r1"], ["m1"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["m1", "k2_f", "b2_f"], ["c2"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c2"], ["r2"]),
            helper.make_node("MaxPool", ["r2"], ["m2"], kernel_shape=[2, 2], strides=[2, 2]),
            # the numpy network flattens rows, columns, channels: so does this
            helper.make_node("Transpose", ["m2"], ["t2"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["t2", "flat_shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w3_f"], ["h1"]),
            helper.make_node("Add", ["h1", "b3_f"], ["h2"]),
            helper.make_node("Relu", ["h2"], ["h3"]),
            helper.make_node("MatMul", ["h3", "w4_f"], ["l1"]),
            helper.make_node("Add", ["l1", "b4_f"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["digits"], axis=1),
        ],
        "kura_digits",
        [helper.make_tensor_value_info("cells", TensorProto.FLOAT, ["n", SIDE * SIDE])],
        [helper.make_tensor_value_info("digits", TensorProto.FLOAT, ["n", 10])],
        [
            *(numpy_helper.from_array(w.astype(np.float16), name) for name, w in weights.items()),
            numpy_helper.from_array(np.array([-1, 1, SIDE, SIDE], np.int64), "image_shape"),
            numpy_helper.from_array(np.array([-1, w3.shape[0]], np.int64), "flat_shape"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="kura bench train-digits",
        doc_string="Single-cell digit recogniser (a small CNN). Trained on the MNIST test set's "
        "training part (C. Cortes, Y. LeCun, C. Burges; CC BY-SA 3.0) and the handwriting fonts.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())


def train(
    out: Path = digits.MODEL, seed: int = 0, progress: Callable[[str], None] = print
) -> Trained:
    from threadpoolctl import threadpool_limits

    random.seed(seed)
    rng = np.random.default_rng(seed)
    x, y = training_data(rng)
    progress(f"{len(x)} training samples")
    # one thread: the sums come out the same on every machine (and a shared machine is faster)
    with threadpool_limits(1):
        params = _train(x, y, rng, progress)
    _write_onnx(params, out)
    digits._session.cache_clear()
    measured = _mnist_masks("measure")
    x_m, y_m = _samples(measured, 1, np.random.default_rng(seed + 1), augment=False)
    predicted = np.argmax(digits.probabilities(x_m, out), axis=1)
    if (predicted != predict(params, x_m)).mean() > 0.002:
        raise RuntimeError(f"the ONNX export in {out} does not compute what was trained")
    accuracy = float((predicted == y_m).mean())
    x_s, y_s = _samples(measured, 1, np.random.default_rng(seed + 2), augment=True)
    scanned = float((np.argmax(digits.probabilities(x_s, out), axis=1) == y_s).mean())
    return Trained(
        out, len(x), round(accuracy, 4), round(scanned, 4), len(y_m), out.stat().st_size
    )
