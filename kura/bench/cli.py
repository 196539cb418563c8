"""`kura bench generate` and `kura bench run` (see docs/benchmarks.md)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schemas.errors import InvalidInput
from schemas.i18n import _

bench_app = typer.Typer(help="The synthetic scan corpus and the benchmark.", no_args_is_help=True)
console = Console(stderr=True)

QUICK_SEED = 0


@bench_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Folder for the scans and their *.truth.json.")],
    forms: Annotated[int, typer.Option(min=1, help="How many documents.")] = 40,
    seed: Annotated[int, typer.Option(help="Same seed, same corpus.")] = 1,
    quick: Annotated[bool, typer.Option(help="Faster, less realistic scans.")] = False,
    wide: Annotated[
        bool,
        typer.Option(
            help="The widened scanner model: each document gets one named effect in turn "
            "(rotation ±5°, quarter turns, scale 94–103 %, perspective, uneven feed, shift, "
            "cut-off margin, 150–600 dpi, no corner marks, all of them)."
        ),
    ] = False,
    digits: Annotated[
        str,
        typer.Option(
            help="What writes the digits: 'font' (the handwriting fonts) or 'mnist' (real "
            "handwritten samples from ../shared/data/mnist, the part kept for measuring)."
        ),
    ] = "font",
) -> None:
    """Write filled-in, scanned forms with their ground truth."""
    if digits not in ("font", "mnist"):
        console.print(f"--digits must be font or mnist, not {digits!r}")
        raise typer.Exit(code=2)
    from kura.bench.synth.corpus import generate_corpus

    started = time.perf_counter()
    paths = generate_corpus(out, forms, seed, quick=quick, wide=wide, digits=digits)
    console.print(
        f"wrote {len(paths)} documents with their truth to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@bench_app.command("train-kana")
def train_kana(
    out: Annotated[Path, typer.Option(help="Where the weights (.npz) go.")] = Path(
        "pipeline/models/halfkana.npz"
    ),
    seed: Annotated[int, typer.Option(help="Same seed, same weights.")] = 0,
) -> None:
    """Train the half-width kana cell classifier on glyphs drawn from the installed Japanese
    fonts, printed and scanned, and write its weights."""
    from kura.bench.train_kana import train

    started = time.perf_counter()
    trained = train(out, seed, progress=lambda message: console.log(message))
    console.print(
        _(
            "wrote {path} ({size} KiB) from {samples} cells in {seconds} s; per-cell accuracy "
            "on words drawn with another seed: {accuracy} %"
        ).format(
            path=trained.path,
            size=round(trained.bytes / 1024),
            samples=trained.samples,
            seconds=round(time.perf_counter() - started),
            accuracy=f"{100 * trained.held_accuracy:.2f}",
        )
    )


@bench_app.command("train-variants")
def train_variants(
    out: Annotated[Path, typer.Option(help="Where the weights (.npz) go.")] = Path(
        "pipeline/models/variants.npz"
    ),
    seed: Annotated[int, typer.Option(help="Same seed, same weights.")] = 0,
) -> None:
    """Train the variant-kanji networks (one per family: 真/眞, 髙/高 …) on glyphs drawn from
    the installed Japanese fonts, the Seto font kept out, and write their weights."""
    from kura.bench.train_variants import train

    started = time.perf_counter()
    trained = train(out, seed, progress=lambda message: console.log(message))
    console.print(
        _("wrote {path} ({size} KiB) from {samples} glyphs in {seconds} s").format(
            path=trained.path,
            size=round(trained.bytes / 1024),
            samples=trained.samples,
            seconds=round(time.perf_counter() - started),
        )
    )
    for font, families in trained.accuracy.items():
        console.print(
            _("{font}: right per family {accuracy}; sure {sure} %, sure and wrong {wrong}").format(
                font=font,
                accuracy=", ".join(f"{f} {100 * a:.1f} %" for f, a in families.items()),
                sure=f"{100 * trained.sure_share[font]:.1f}",
                wrong=trained.sure_wrong[font],
            )
        )


@bench_app.command("train-digits")
def train_digits(
    out: Annotated[Path, typer.Option(help="Where the ONNX weights go.")] = Path(
        "pipeline/models/digits.onnx"
    ),
    seed: Annotated[int, typer.Option(help="Same seed, same weights.")] = 0,
) -> None:
    """Train the single-cell digit recogniser on the training part of MNIST (and the
    handwriting fonts) and write it as ONNX; needs the `train` extra (onnx)."""
    from kura.bench.train_digits import train

    started = time.perf_counter()
    trained = train(out, seed, progress=lambda message: console.log(message))
    console.print(
        _(
            "wrote {path} ({size} KiB) from {samples} samples in {seconds} s; per-cell accuracy "
            "on the {measured} MNIST digits kept for measuring: {plain} % drawn plainly, "
            "{scanned} % drawn as a scan changes them"
        ).format(
            path=trained.path,
            size=round(trained.bytes / 1024),
            samples=trained.train_samples,
            seconds=round(time.perf_counter() - started),
            measured=trained.measure_samples,
            plain=f"{100 * trained.measure_accuracy:.2f}",
            scanned=f"{100 * trained.scanned_accuracy:.2f}",
        )
    )


@bench_app.command("calibrate")
def calibrate(
    corpus: Annotated[Path, typer.Argument(help="Scans with a *.truth.json beside each.")],
    out: Annotated[Path, typer.Option(help="The calibration file to write.")] = Path(
        "bench-report/calibration.yaml"
    ),
) -> None:
    """Re-derive the accept thresholds from a labelled corpus; writes a calibration file
    (use it with KURA_CALIBRATION=FILE) and a reliability chart beside it."""
    from kura.bench.calibrate import calibrate as derive

    thresholds, written, chart = derive(corpus, out, lambda message: console.log(message))
    for kind, found in thresholds.items():
        console.print(
            f"{kind:10} {found['threshold']:.2f} (was {found['was']}): {found['wrong']} wrong "
            f"of {found['readings']} decided by confidence alone, "
            f"{found['right_sent_to_review']} right ones to review"
        )
    console.print(f"wrote {written} and {chart}")


@bench_app.command("run")
def run(
    corpus: Annotated[Path, typer.Argument(help="A folder written by `kura bench generate`.")],
    out: Annotated[Path, typer.Option(help="Where bench.json, bench.md, bench.png go.")] = Path(
        "bench-report"
    ),
    quick: Annotated[
        bool,
        typer.Option(
            help="A handful of documents, Tesseract on one, baseline on one page: < 1 min. "
            "Generates a small corpus when the folder has none."
        ),
    ] = False,
    engines: Annotated[
        bool, typer.Option(help="Also run with each OCR engine forced alone (ppocr, tesseract).")
    ] = True,
    services: Annotated[
        bool,
        typer.Option(
            help="Also through Celery workers on Redis, PostgreSQL and S3 (1 and 2 workers)."
        ),
    ] = False,
    baseline_pages: Annotated[
        int | None,
        typer.Option(
            help="Time the plain OCR engine on the first N pages only (it takes 5–20× the "
            "pipeline's time per page); all pages when not given."
        ),
    ] = None,
) -> None:
    """Run the pipeline on a corpus and report accuracy, silent errors and speed."""
    from kura.bench.report import print_summary, write_report
    from kura.bench.runner import QUICK_DOCUMENTS, load_corpus, run_benchmark

    if not any(corpus.glob("*.truth.json")):
        if not quick:
            raise InvalidInput(f"no corpus in {corpus}",
                               hint=f"run `kura bench generate --out {corpus}`")
        from kura.bench.synth.corpus import generate_corpus

        console.print(f"no corpus in {corpus}: generating {QUICK_DOCUMENTS} quick documents")
        generate_corpus(corpus, QUICK_DOCUMENTS, QUICK_SEED, quick=True)

    report = run_benchmark(
        corpus,
        quick=quick,
        engines=engines,
        progress=lambda message: console.log(message),
        baseline_pages=baseline_pages,
    )
    failed = False
    if services:
        from kura.bench.services import ServicesError, measure_workers

        files = load_corpus(corpus, QUICK_DOCUMENTS if quick else None)
        try:
            report["services"] = measure_workers(
                [f.path for f in files],
                report["corpus"]["pages"],
                progress=lambda message: console.log(message),
            )
        except ServicesError as error:
            console.print(f"[red]--services failed:[/] {error}")
            report["services"] = {"error": str(error)}
            failed = True
    command = " ".join(["kura", *map(shlex.quote, sys.argv[1:])])
    report["command"] = command
    paths = write_report(report, out, command)
    print_summary(report)
    console.print(
        f"report: {', '.join(str(p) for p in paths.values())} ({report['seconds']:.0f} s)"
    )
    if failed:
        raise typer.Exit(code=1)


@bench_app.command("lists")
def lists(
    corpus: Annotated[Path, typer.Argument(help="Folder of lists (written when empty).")],
    count: Annotated[int, typer.Option(min=1, help="Lists to write when the folder is empty.")
                     ] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the lists written.")] = 2,
    out: Annotated[Path | None, typer.Option(help="Where to write lists.json.")] = None,
    printers: Annotated[str, typer.Option(
        help="Faces the lists written are printed in: ipaex (as before), trained (the faces "
             "the kana reader is trained on) or held (faces it never saw).")] = "ipaex",
) -> None:
    """Printed result lists (処理結果一覧表): rows exact, silent cell errors, pages/min."""
    import json

    from kura.bench.lists import print_lists_summary, run_lists
    from kura.bench.synth.lists import write_lists

    if not any(corpus.glob("list_*.truth.json")):
        console.print(f"writing {count} lists (seed {seed}, {printers} faces) to {corpus}")
        write_lists(corpus, count, seed, printers)
    report = run_lists(corpus, progress=lambda message: console.log(message))
    report["command"] = " ".join(["kura", *map(shlex.quote, sys.argv[1:])])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_lists_summary(report, console.print)


@bench_app.command("reconcile")
def reconcile_timing(
    rows: Annotated[int, typer.Option(min=1, help="Rows of the list.")] = 2000,
) -> None:
    """The time 突合 takes over a list of ROWS rows against a register, every outcome planted."""
    from kura.bench.lists import time_reconciliation

    report = time_reconciliation(rows)
    console.print(
        f"reconciled {report['rows']} rows against {report['entries']} register entries in "
        f"{report['seconds'] * 1000:.1f} ms; planted {report['planted']}, found "
        f"{report['found']}, overdue {report['overdue']}")


@bench_app.command("reconcile-register")
def reconcile_register_timing(
    rows: Annotated[int, typer.Option(min=1, help="Rows of the list.")] = 2000,
    data_dir: Annotated[Path | None, typer.Option(
        help="A new folder for the throwaway installation (default: a temporary one).")] = None,
) -> None:
    """The time 突合 and its confirmation take through their use cases (kura totsugo run /
    confirm) over a list of ROWS rows against a register of ROWS + 10 %, on SQLite."""
    import tempfile

    from kura.bench.register_timing import time_register_reconciliation

    with tempfile.TemporaryDirectory(prefix="kura-bench-") as scratch:
        report = time_register_reconciliation(rows, data_dir or Path(scratch) / "data")
    console.print(
        f"reconciled {report['rows']} rows against {report['entries']} register entries "
        f"through the use case in {report['reconcile_seconds']:.2f} s, confirmed in "
        f"{report['confirm_seconds']:.2f} s (setup {report['setup_seconds']} s); planted "
        f"{report['planted']}, found {report['found']}")


@bench_app.command("station")
def station(
    documents: Annotated[int, typer.Option(min=1, help="Documents in the database.")] = 10_000,
    samples: Annotated[int, typer.Option(min=1, help="Documents opened and corrected.")] = 200,
    keystroke_documents: Annotated[int, typer.Option(
        min=1, help="Documents verified in Chromium with the keyboard, every key counted.")
    ] = 20,
    out: Annotated[Path | None, typer.Option(help="Write the numbers here as JSON.")] = None,
) -> None:
    """The verification station's numbers on a throwaway PostgreSQL: server time to show the
    queue's first screen, to open a document (target: median under 100 ms) and to save a
    correction; keystrokes per 100
    forms, counted while Chromium verifies documents with the station's keyboard."""
    import json
    import tempfile

    from kura.bench.servers import PostgresServer
    from kura.bench.station import fill, measure
    from schemas.settings import Settings

    server = PostgresServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(data_dir=Path(data_dir),
                                database_url=server.create_database("bench_station"))
            started = time.perf_counter()
            fill(settings, documents, progress=lambda message: console.log(message))
            console.log(f"filled in {time.perf_counter() - started:.0f} s")
            numbers = measure(settings, samples,
                              keystroke_documents=keystroke_documents).as_dict()
    finally:
        server.stop()
    text = json.dumps(numbers, indent=1)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
