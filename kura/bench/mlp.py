"""The small classifiers Kura ships beside PP-OCR (the half-width kana cells, the variant
kanji) are one hidden layer trained the same way: Adam in numpy, a fixed seed, the rate cut
for the last third of the epochs. One trainer, so their weights stay reproducible alike."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import cast

import numpy as np


@dataclass(frozen=True)
class Schedule:
    hidden: int
    epochs: int
    batch: int
    rate: float
    late_rate: float
    """The share of `rate` kept for the last third of the epochs."""


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    schedule: Schedule,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Weights `w1`, `b1`, `w2`, `b2` of inputs → hidden (ReLU) → `classes` (softmax)."""
    rng = np.random.default_rng(seed)
    hidden_size = schedule.hidden
    params = {
        "w1": rng.normal(0, np.sqrt(2 / x.shape[1]), (x.shape[1], hidden_size)).astype(np.float32),
        "b1": np.zeros(hidden_size, np.float32),
        "w2": rng.normal(0, np.sqrt(1 / hidden_size), (hidden_size, classes)).astype(np.float32),
        "b2": np.zeros(classes, np.float32),
    }
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    step = 0
    for epoch in range(schedule.epochs):
        order = rng.permutation(len(x))
        late = epoch >= schedule.epochs * 2 // 3
        rate = schedule.rate * (schedule.late_rate if late else 1.0)
        loss_sum = 0.0
        for at in range(0, len(x), schedule.batch):
            batch = order[at : at + schedule.batch]
            inputs, targets = x[batch], y[batch]
            hidden = np.maximum(inputs @ params["w1"] + params["b1"], 0.0)
            logits = hidden @ params["w2"] + params["b2"]
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            if progress is not None:
                loss_sum += float(-np.log(probs[np.arange(len(batch)), targets] + 1e-9).sum())
            grad = probs
            grad[np.arange(len(batch)), targets] -= 1.0
            grad /= len(batch)
            grads = {"w2": hidden.T @ grad, "b2": grad.sum(axis=0)}
            back = (grad @ params["w2"].T) * (hidden > 0)
            grads["w1"], grads["b1"] = inputs.T @ back, back.sum(axis=0)
            step += 1
            for name, value in params.items():
                m, v = moments[name]
                m *= 0.9
                m += 0.1 * grads[name]
                v *= 0.999
                v += 0.001 * grads[name] ** 2
                corrected = (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
                value -= (rate * corrected).astype(np.float32)
        if progress is not None:
            progress(f"epoch {epoch + 1}/{schedule.epochs}: loss {loss_sum / len(x):.4f}")
    return params


def one_thread() -> AbstractContextManager[object]:
    """One BLAS thread, so that the sums, and the weights, come out the same on every machine:
    threadpoolctl (the `train` extra) where it is installed; else run the command with
    OPENBLAS_NUM_THREADS=1 (as the shipped weights were)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return cast(AbstractContextManager[object], threadpool_limits(1))
