"""`kura bench lists`: printed result lists (処理結果一覧表) through the whole page pipeline,
scored against their truth.

* *rows exact*: a truth row whose every column the pipeline read exactly (status aside);
* *silent cell error*: a cell accepted without a person whose value is wrong, over all cells;
* *pages/min*: list pages through rasterise → page → assemble, per minute, one process.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kura.bench.metrics import row_exact_match
from pipeline.ingest import rasterise
from pipeline.page import assemble, process_page
from schemas.contracts import DocumentResult

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def score_list(truth: dict[str, Any], documents: list[DocumentResult]) -> dict[str, Any]:
    """One list file's numbers: rows, cells, silent errors, header, page checks."""
    lists = [d for d in documents if d.form == truth["form"] and d.rows is not None]
    document = lists[0] if len(lists) == 1 else None
    rows = row_exact_match(truth["rows"], document.rows if document else None)
    cells = silent = review = 0
    wrong_by_column: Counter[str] = Counter()
    silent_by_column: Counter[str] = Counter()
    wrong_cells: list[dict[str, Any]] = []
    predicted = document.rows if document and document.rows else []
    for index, truth_row in enumerate(truth["rows"]):
        row = predicted[index] if index < len(predicted) else {}
        for column, value in truth_row.items():
            cells += 1
            cell = row.get(column)
            if cell is None or cell.value != value:
                wrong_by_column[column] += 1
                wrong_cells.append({"row": index, "column": column, "truth": value,
                                    "read": cell.value if cell else None,
                                    "status": cell.status if cell else None})
            if cell is not None and cell.status == "review":
                review += 1
            if cell is not None and cell.status == "accepted" and cell.value != value:
                silent += 1
                silent_by_column[column] += 1
    header_right = sum(
        1 for name, value in truth["header"].items()
        if document and name in document.fields and document.fields[name].value == value
    )
    return {
        "source": truth["source"],
        "pages": truth["pages"],
        "documents": len(documents),
        "one_list": document is not None,
        "rows": rows.rows,
        "rows_read": rows.predicted_rows,
        "rows_exact": rows.exact,
        "cells": cells,
        "cells_review": review,
        "silent_cells": silent,
        "wrong_by_column": dict(wrong_by_column),
        "silent_by_column": dict(silent_by_column),
        "wrong_cells": wrong_cells,
        "header_right": header_right,
        "header_fields": len(truth["header"]),
        "reasons": document.reasons if document else [r for d in documents for r in d.reasons],
    }


def run_lists(corpus: Path, progress: Progress = _quiet, limit: int | None = None
              ) -> dict[str, Any]:
    """Every list of a corpus written by `write_lists`, read and scored."""
    scores, seconds, pages = [], 0.0, 0
    truths = sorted(corpus.glob("list_*.truth.json"))[:limit]
    for path in truths:
        truth = json.loads(path.read_text(encoding="utf-8"))
        started = time.perf_counter()
        images = rasterise((corpus / truth["source"]).read_bytes())
        results = [process_page(image) for image in images]
        documents = assemble(truth["source"], results)
        elapsed = time.perf_counter() - started
        seconds += elapsed
        pages += len(images)
        score = score_list(truth, documents)
        score["seconds"] = round(elapsed, 2)
        scores.append(score)
        progress(f"{truth['source']}: {score['rows_exact']}/{score['rows']} rows exact, "
                 f"{score['silent_cells']} silent cells, {len(images)} pages in {elapsed:.1f} s")
    return summarise_lists(scores, seconds, pages)


def summarise_lists(scores: list[dict[str, Any]], seconds: float, pages: int
                    ) -> dict[str, Any]:
    rows = sum(s["rows"] for s in scores)
    cells = sum(s["cells"] for s in scores)
    wrong: Counter[str] = Counter()
    silent: Counter[str] = Counter()
    for s in scores:
        wrong.update(s["wrong_by_column"])
        silent.update(s["silent_by_column"])
    return {
        "lists": len(scores),
        "pages": pages,
        "rows": rows,
        "rows_exact": sum(s["rows_exact"] for s in scores),
        "rows_exact_rate": round(sum(s["rows_exact"] for s in scores) / rows, 4) if rows else 0,
        "cells": cells,
        "silent_cells": sum(s["silent_cells"] for s in scores),
        "silent_cell_rate": (
            round(sum(s["silent_cells"] for s in scores) / cells, 5) if cells else 0),
        "cells_review_rate": (
            round(sum(s["cells_review"] for s in scores) / cells, 4) if cells else 0),
        "lists_read_as_one": sum(s["one_list"] for s in scores),
        "header_right_rate": round(
            sum(s["header_right"] for s in scores)
            / max(1, sum(s["header_fields"] for s in scores)), 4),
        "wrong_by_column": dict(wrong.most_common()),
        "silent_by_column": dict(silent.most_common()),
        "seconds": round(seconds, 1),
        "pages_per_minute": round(pages / seconds * 60, 1) if seconds else 0,
        "files": scores,
    }


def print_lists_summary(report: dict[str, Any], say: Callable[[str], None]) -> None:
    say(f"lists {report['lists']} ({report['pages']} pages, {report['rows']} rows): "
        f"rows exact {report['rows_exact_rate']:.2%}, "
        f"silent cells {report['silent_cells']}/{report['cells']} "
        f"({report['silent_cell_rate']:.3%}), cells to review {report['cells_review_rate']:.2%}, "
        f"read as one list {report['lists_read_as_one']}/{report['lists']}, "
        f"header {report['header_right_rate']:.2%}, {report['pages_per_minute']} pages/min")
    say(f"wrong cells by column: {report['wrong_by_column']}")
    say(f"silent cells by column: {report['silent_by_column']}")


def time_reconciliation(rows: int = 2000, seed: int = 3) -> dict[str, Any]:
    """A register and a list of `rows` rows with every outcome planted (most rows match,
    some differ in name, some were never received, some are another municipality's), and
    the seconds `reconcile` takes over them."""
    import datetime as dt
    import hashlib
    import random

    from pipeline.reconcile import ListRow, RegisterEntry, reconcile

    rng = random.Random(seed)
    office, today = "041009", dt.date(2025, 10, 1)

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    entries, list_rows, planted = [], [], Counter[str]()
    for n in range(rows + rows // 10):
        received = dt.date(2025, 6, 1) + dt.timedelta(days=rng.randint(0, 60))
        kind = rng.choice(("資格取得", "免除申請"))
        entries.append(RegisterEntry(
            f"E{n}", office, f"{rng.randint(10**9, 10**10 - 1)}", kind, received,
            digest(f"kana{n}"), digest(f"birth{n}"),
            forwarded_date=received + dt.timedelta(days=3)))
    for index in range(rows):
        entry, roll = entries[index], rng.random()
        kind = ("matched" if roll < 0.9 else "matched_with_differences" if roll < 0.95
                else "result_without_entry" if roll < 0.98 else "other_municipality")
        planted[kind] += 1
        list_rows.append(ListRow(
            index, entry.basic_pension_number if kind != "result_without_entry"
            else f"{rng.randint(10**9, 10**10 - 1)}",
            entry.notification_type, entry.received_date + dt.timedelta(days=rng.randint(2, 20)),
            digest(f"other{index}") if kind == "matched_with_differences"
            else entry.name_kana_digest,
            entry.birth_date_digest, "131164" if kind == "other_municipality" else office))
    started = time.perf_counter()
    result = reconcile(list_rows, entries, municipality_code=office, today=today)
    seconds = time.perf_counter() - started
    found = Counter(match.outcome for match in result.rows)
    return {"rows": rows, "entries": len(entries), "seconds": round(seconds, 4),
            "planted": dict(planted), "found": dict(found), "overdue": len(result.overdue)}
