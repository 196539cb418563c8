"""Settle a field of digit cells from several readers and the field's own check.

Each written cell has the digit model's probabilities (`pipeline.digits`) and the digit each
PP-OCR recogniser read there. Per cell they combine into a posterior over the ten digits
(the model's probabilities, each recogniser's vote counted as a reader right `engine_cell_
accuracy` of the time). Cells where every reader agrees and the model is sure stand; for
the others (at most `MAX_DISPUTED`), where the field has a check of its own (the 個人番号
check digit, a real date, a postal code that exists) the field is settled only when
exactly one combination of the digits its readers saw passes: otherwise a person decides,
shown the likeliest combination that passes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from schemas.calibration import calibration

MAX_DISPUTED = 3
"""At most 10³ combinations are weighed; more cells in dispute go to a person."""


@dataclass(frozen=True)
class Settled:
    text: str
    """The likeliest digits (passing the check where the field has one)."""
    settled: bool
    """True when the readers agree, or the check leaves one clear combination."""
    confidence: float
    """The chosen combination's share of the weight of those that pass the check."""
    disputed: int
    """Cells not every reader agreed on (or the model was unsure of)."""


Votes = dict[str, str | None]
"""Each recogniser's digits, one per cell (None where it read another count of them)."""


def cell_posteriors(model: np.ndarray, votes: Votes) -> np.ndarray:
    """(cells × 10) posteriors from the model's probabilities and the recognisers' votes."""
    numbers = calibration().digit_settle
    floor = numbers.model_floor
    log = np.log(model * (1 - 10 * floor) + floor)
    for engine, vote in votes.items():
        if vote is None:
            continue
        accuracy = numbers.engine_cell_accuracy[engine]
        right, wrong = np.log(accuracy), np.log((1 - accuracy) / 9)
        for cell, digit in enumerate(vote):
            log[cell] += wrong
            if digit.isdigit():
                log[cell, int(digit)] += right - wrong
    log -= log.max(axis=1, keepdims=True)
    weights = np.exp(log)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


def settle(model: np.ndarray, votes: Votes, passes: Callable[[str], bool] | None) -> Settled:
    """The digits of a field from the model's per-cell probabilities (cells × 10), the
    recognisers' readings and the field's check (`passes`, None when it has none)."""
    numbers = calibration().digit_settle
    posterior = cell_posteriors(model, votes)
    best = [int(np.argmax(row)) for row in posterior]
    agreed = [
        all(v is not None and v[k] == str(best[k]) for v in votes.values())
        and float(model[k, best[k]]) >= numbers.model_trusted
        for k in range(len(best))
    ]
    disputed = [k for k, ok in enumerate(agreed) if not ok]
    likeliest = "".join(map(str, best))
    if not disputed:  # the field's own check still applies (pipeline.fields)
        return Settled(likeliest, True, float(np.prod(posterior.max(axis=1))), 0)
    if passes is None or len(disputed) > MAX_DISPUTED:
        return Settled(likeliest, False, 0.0, len(disputed))
    # the digits any reader saw in each open cell: the model's down to `candidate_floor`
    candidates = [
        sorted({d for d in range(10) if model[k, d] >= numbers.candidate_floor}
               | {int(v[k]) for v in votes.values() if v is not None and v[k].isdigit()})
        for k in disputed
    ]
    digits = list(best)
    passing: list[tuple[float, str]] = []
    for combination in itertools.product(*candidates):
        for k, d in zip(disputed, combination, strict=True):
            digits[k] = d
        text = "".join(map(str, digits))
        if passes(text):
            weight = float(np.prod([posterior[k, d] for k, d in zip(disputed, combination,
                                                                     strict=True)]))
            passing.append((weight, text))
    if not passing:
        return Settled(likeliest, False, 0.0, len(disputed))
    weight, text = max(passing)
    share = weight / sum(w for w, _ in passing)
    # settled only where the check leaves one of the combinations the readers saw: a check
    # that two of them pass (a 7 or a 9 in an era digit) decides nothing, whatever the votes
    return Settled(text, len(passing) == 1, share, len(disputed))
