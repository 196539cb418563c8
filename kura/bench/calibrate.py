"""`kura bench calibrate CORPUS`: re-derive the accept thresholds from a labelled corpus (the
benchmark's, or an office's own verified scans in the same layout: scans with a
`*.truth.json` beside each), write them as a calibration file with their provenance, and
draw the reliability of each field type's confidence (confidence against accuracy).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from kura.bench.metrics import FieldOutcome, reliability
from schemas.calibration import calibration

FLOOR = 0.5
"""No threshold is derived below this: under it a reading is a guess whatever the corpus."""
CEILING = 0.99


def derive_thresholds(
    fields: Iterable[FieldOutcome], current: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Per type, the lowest threshold under which no wrong reading would be accepted: just
    above the surest wrong reading that nothing but its confidence sent to review (or
    accepted), never below `FLOOR`; with what it costs in right readings sent to review."""
    derived: dict[str, dict[str, Any]] = {}
    by_type: dict[str, list[FieldOutcome]] = {}
    for outcome in fields:
        by_type.setdefault(outcome.type, []).append(outcome)
    for kind in sorted(set(current) | set(by_type)):
        items = by_type.get(kind, [])
        # readings only the threshold decides: a value, and no other reason to review it
        open_ = [f for f in items if f.value and set(f.reasons) <= {"low_confidence"}]
        wrong = [f.confidence for f in open_ if not f.right]
        threshold = FLOOR
        if wrong:
            threshold = min(CEILING, max(FLOOR, math.ceil((max(wrong) + 0.005) * 100) / 100))
        derived[kind] = {
            "threshold": threshold,
            "was": current.get(kind),
            "readings": len(open_),
            "wrong": len(wrong),
            "right_sent_to_review": sum(f.right and f.confidence < threshold for f in open_),
        }
    return derived


def write_calibration(
    thresholds: dict[str, dict[str, Any]], corpus: Path, out: Path, documents: int
) -> Path:
    """The calibration in force with the derived accept thresholds and their provenance."""
    data = calibration().model_dump()
    data["accept_confidence"] = {k: v["threshold"] for k, v in thresholds.items()}
    data["provenance"]["accept_confidence"] = (
        f"kura bench calibrate {corpus} ({documents} documents), "
        f"{dt.date.today().isoformat()}: per type just above the surest wrong reading that "
        f"only its confidence decided, never below {FLOOR}"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# Written by `kura bench calibrate`; use it with KURA_CALIBRATION="
        + str(out)
        + "\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return out


def reliability_chart(table: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Confidence against accuracy per field type: a calibrated recogniser lies on the
    diagonal; points below it are over-confident."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(8, 7))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for kind, rows in table.items():
        if not rows:
            continue
        centres = [(r["low"] + r["high"]) / 2 for r in rows]
        ax.plot(centres, [r["accuracy"] for r in rows], marker="o", label=kind)
        for x, r in zip(centres, rows, strict=True):
            ax.annotate(str(r["fields"]), (x, r["accuracy"]), fontsize=6, alpha=0.6)
    ax.set_xlabel("confidence (bin centre)")
    ax.set_ylabel("share of readings right")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("Reliability per field type (numbers: readings in the bin)")
    ax.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def calibrate(
    corpus: Path, out: Path, progress: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], Path, Path]:
    """Read the corpus with the pipeline as shipped, derive the thresholds, write the
    calibration file and the reliability chart beside it."""
    from kura.bench.runner import load_corpus, rasterise_corpus, run_pass
    from schemas.forms import load_forms

    files = load_corpus(corpus)
    progress(f"rasterising {len(files)} scans")
    result = run_pass(rasterise_corpus(files), None, load_forms(), progress)
    fields = [f for score in result.scores for f in score.fields]
    thresholds = derive_thresholds(fields, calibration().accept_confidence)
    written = write_calibration(thresholds, corpus, out, len(files))
    chart = reliability_chart(reliability(fields), out.with_suffix(".reliability.png"))
    return thresholds, written, chart
