"""Synthetic filled-in, scanned forms with their ground truth: for the demo, tests and benchmark.

* `values`      — random but valid canonical values per field (the truth).
* `handwriting` — draw those values onto the blank template like a resident with a pen.
* `scanner`     — what a scanner does to a page (dpi, skew, blur, noise, JPEG, 1-bit, 180°).
* `corpus`      — write whole documents (PNG/JPEG/PDF/TIFF) beside `NAME.truth.json`.

Everything is a pure function of its inputs and a seeded random generator: same seed, same
pages, same truth.
"""

from __future__ import annotations

from kura.bench.synth.corpus import generate_corpus, make_sample_scans, truth_path
from kura.bench.synth.handwriting import HandStyle, fill_form
from kura.bench.synth.scanner import ScanEffects, blank_back_page, random_effects, scan
from kura.bench.synth.values import (
    generate_values,
)

__all__ = [
    "HandStyle",
    "ScanEffects",
    "blank_back_page",
    "fill_form",
    "generate_corpus",
    "generate_values",
    "make_sample_scans",
    "random_effects",
    "scan",
    "truth_path",
]
