"""Settle a field of digit cells from several readers and the field's own check.

Each written cell has the digit model's probabilities (`pipeline.digits`) and what each
PP-OCR recogniser saw there: in a row of printed cells, its own probabilities for the ten
digits under that cell (`pipeline.digitcells`, "seen"); in a number written freehand, the
digit it read (a vote, counted as a reader right `engine_cell_accuracy` of the time). Per
cell they combine into a posterior over the ten digits. A cell stands where every reader's
likeliest digit is the same, they are sure of it together (`seen_sure`; beside votes, the
model alone `model_trusted`, or `model_over_second` where the second recogniser read another
digit) and the posterior is at least `cell_trusted`. For the other
cells (at most `MAX_DISPUTED`), where the field has a check of its own (the 個人番号 check
digit, a real date, a postal code that exists) the field is settled only when exactly one
combination of the digits its readers saw passes: otherwise a person decides, shown the
likeliest combination that passes.
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
Seen = dict[str, np.ndarray]
"""Each recogniser's probabilities for the ten digits under each cell (cells × 10)."""


def cell_posteriors(model: np.ndarray, votes: Votes, seen: Seen | None = None) -> np.ndarray:
    """(cells × 10) posteriors from the model's probabilities, what the recognisers saw under
    each cell and their votes."""
    numbers = calibration().digit_settle
    floor = numbers.model_floor
    log = np.log(model * (1 - 10 * floor) + floor)
    for opinion in (seen or {}).values():
        log += np.log(opinion * (1 - 10 * floor) + floor)
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


def settle(
    model: np.ndarray,
    votes: Votes,
    passes: Callable[[str], bool] | None,
    seen: Seen | None = None,
) -> Settled:
    """The digits of a field from the model's per-cell probabilities (cells × 10), what the
    recognisers saw under each cell (`seen`) or read (`votes`), and the field's check
    (`passes`, None when it has none)."""
    seen = seen or {}
    posterior = cell_posteriors(model, votes, seen)
    best = [int(np.argmax(row)) for row in posterior]

    def open_cells(near_miss: bool) -> list[int]:
        return [
            k for k, digit in enumerate(best)
            if not stands(model[k], [s[k] for s in seen.values()], [v and v[k] for v in
                          votes.values()], digit, float(posterior[k, digit]), near_miss)
        ]

    disputed = open_cells(near_miss=True)
    if passes is None:
        return weighed(model, votes, seen, posterior, None, disputed)
    settled = weighed(model, votes, seen, posterior, passes, disputed)
    if passes(settled.text):
        return settled
    # the check refutes every reading a near miss leaves (a sure model wrong, PP-OCR's
    # first choice right): the near misses are weighed with the check as well
    strict = open_cells(near_miss=False)
    return settled if strict == disputed else weighed(model, votes, seen, posterior, passes,
                                                      strict)


def stands(
    model: np.ndarray,
    seen: list[np.ndarray],
    votes: list[str | None],
    digit: int,
    posterior: float,
    near_miss: bool,
) -> bool:
    """Whether one cell's likeliest digit stands without the field's check, from the model's
    probabilities for it, each recogniser's under it (`seen`) or its vote."""
    numbers = calibration().digit_settle
    if posterior < numbers.cell_trusted:
        return False
    if not seen:  # beside readers that only vote: the model sure, the first reader alike
        # and, where another reader read another digit there, the model surer still
        against = any(v is not None and v != str(digit) for v in votes[1:])
        return bool(
            float(model[digit]) >= (numbers.model_over_second if against else numbers.model_trusted)
            and int(np.argmax(model)) == digit
            and votes
            and votes[0] == str(digit)
        )
    # beside readers whose own doubt is weighed under the cell: every first choice the same
    # and sure together, or a near miss (one reader sure, the other's runner-up at least
    # `near_miss_floor`)
    opinions = [float(o[digit]) for o in (model, *seen)]
    if all(int(np.argmax(o)) == digit for o in (model, *seen)):
        sure = float(np.prod(opinions)) >= numbers.seen_sure
    else:
        sure = near_miss and (
            max(opinions) >= numbers.near_miss_sure and min(opinions) >= numbers.near_miss_floor
        )
    return sure and all(v == str(digit) for v in votes)


def weighed(
    model: np.ndarray,
    votes: Votes,
    seen: Seen,
    posterior: np.ndarray,
    passes: Callable[[str], bool] | None,
    disputed: list[int],
) -> Settled:
    """The field settled with the `disputed` cells open: by the check, where it has one."""
    numbers = calibration().digit_settle
    best = [int(np.argmax(row)) for row in posterior]
    likeliest = "".join(map(str, best))
    if not disputed:  # the field's own check still applies (pipeline.fields)
        return Settled(likeliest, True, float(np.prod(posterior.max(axis=1))), 0)
    if passes is None or len(disputed) > MAX_DISPUTED:
        return Settled(likeliest, False, 0.0, len(disputed))
    # the digits any reader saw in each open cell: down to `candidate_floor`
    candidates = [
        sorted({d for d in range(10) if model[k, d] >= numbers.candidate_floor}
               | {d for s in seen.values() for d in range(10) if s[k, d] >= numbers.candidate_floor}
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
    # settled where the check leaves one of the combinations the readers saw, or where of
    # those it leaves (a 7 or a 9 in an era digit) readers that all weigh their doubt (the
    # model and PP-OCR under printed cells; a vote's weight is a guess) put nearly all their
    # weight on one
    dominant = bool(seen) and share >= numbers.check_share
    return Settled(text, len(passing) == 1 or dominant, share, len(disputed))
