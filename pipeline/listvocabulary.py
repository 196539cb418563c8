"""A code column of a list read as the one of its printed values the print is likeliest to be
(CTC likelihood of each value).
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np

from pipeline import lexicon
from pipeline.listreading import japanese_alphabet, probabilities
from pipeline.ocr import PaddleEngine, Reading
from schemas.forms import ColumnDef

VOCABULARY_LIKENESS = 0.5
"""How alike the unconstrained reading must be to the likeliest value of a code column…"""
VOCABULARY_GAP = 4.0
"""…or how close (log-likelihood per character) that value comes to the unconstrained best
path: a value the print does not hold falls far short of it."""


def ctc_log_likelihood(log_probs: np.ndarray, labels: list[int]) -> float:
    """log P(labels | frames) under CTC (blank = output 0): the forward algorithm."""
    extended = [0]
    for label in labels:
        extended += [label, 0]
    ext = np.array(extended)
    size = len(ext)
    can_skip = np.zeros(size, bool)
    can_skip[2:] = (ext[2:] != 0) & (ext[2:] != ext[:-2])
    alpha = np.full(size, -np.inf)
    alpha[0] = log_probs[0, 0]
    if size > 1:
        alpha[1] = log_probs[0, ext[1]]
    for frame in log_probs[1:]:
        stay = alpha
        step = np.concatenate(([-np.inf], alpha[:-1]))
        skip = np.where(can_skip, np.concatenate(([-np.inf, -np.inf], alpha[:-2])), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), skip) + frame[ext]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if size > 1 else alpha[-1])


def _greedy(probs: np.ndarray, characters: list[str]) -> str:
    best = probs.argmax(axis=1)
    out, previous = [], 0
    for index in best:
        if index != 0 and index != previous:
            out.append(characters[index])
        previous = index
    return "".join(out)


def read_vocabulary(engine: PaddleEngine, crops: list[np.ndarray], column: ColumnDef
                    ) -> list[Reading]:
    """A code column read as the one of its printed values the print is likeliest to be
    (CTC likelihood of each value); the confidence is that value's share of the likelihood
    of all values. When the unconstrained reading is neither like the chosen value nor much
    likelier, the print is something this column is not known to print: that reading is
    kept, for a person."""
    index = {ch: i for i, ch in enumerate(engine.characters)}
    values = [v for v in column.vocabulary if all(ch in index for ch in v)]
    printable = _printable(engine)
    readings = []
    for probs, _chars in probabilities(engine, crops):
        # compared with what a Japanese system can print: 処理済 is not "unlike" 处理济
        probs = np.where(printable, probs, 0.0)
        log_probs = np.log(np.maximum(probs, 1e-12))
        scores = np.array([ctc_log_likelihood(log_probs, [index[c] for c in v]) for v in values])
        best = int(scores.argmax())
        share = float(np.exp(scores[best] - np.logaddexp.reduce(scores)))
        free = lexicon.to_japanese_forms(_greedy(probs, engine.characters))
        greedy_path = float(log_probs.max(axis=1).sum())
        gap = (greedy_path - scores[best]) / len(values[best])
        alike = (difflib.SequenceMatcher(None, free, values[best]).ratio() >= VOCABULARY_LIKENESS
                 or gap <= VOCABULARY_GAP)
        readings.append(Reading(values[best] if alike else free, share, engine.name))
    return readings


@lru_cache(maxsize=2)
def _printable(engine: PaddleEngine) -> np.ndarray:
    """Which of the recogniser's outputs a Japanese system can print (and the blank)."""
    allowed = set(japanese_alphabet())
    return np.array([i == 0 or c in allowed for i, c in enumerate(engine.characters)])
