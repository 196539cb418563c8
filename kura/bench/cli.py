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

bench_app = typer.Typer(help="The synthetic scan corpus and the benchmark.", no_args_is_help=True)
console = Console(stderr=True)

QUICK_SEED = 0


@bench_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Folder for the scans and their *.truth.json.")],
    forms: Annotated[int, typer.Option(min=1, help="How many documents.")] = 40,
    seed: Annotated[int, typer.Option(help="Same seed, same corpus.")] = 1,
    quick: Annotated[bool, typer.Option(help="Faster, less realistic scans.")] = False,
) -> None:
    """Write filled-in, scanned forms with their ground truth."""
    from kura.bench.synth.corpus import generate_corpus

    started = time.perf_counter()
    paths = generate_corpus(out, forms, seed, quick=quick)
    console.print(
        f"wrote {len(paths)} documents with their truth to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )


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
        corpus, quick=quick, engines=engines, progress=lambda message: console.log(message)
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


@bench_app.command("station")
def station(
    documents: Annotated[int, typer.Option(min=1, help="Documents in the database.")] = 10_000,
    samples: Annotated[int, typer.Option(min=1, help="Documents opened and corrected.")] = 200,
    out: Annotated[Path | None, typer.Option(help="Write the numbers here as JSON.")] = None,
) -> None:
    """The verification station's numbers on a throwaway PostgreSQL: server time to open a
    document (target: median under 100 ms) and to save a correction; keystrokes per 100
    forms."""
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
            numbers = measure(settings, samples).as_dict()
    finally:
        server.stop()
    text = json.dumps(numbers, indent=1)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
