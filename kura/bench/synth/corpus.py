"""Write synthetic scanned documents with their ground truth, for the demo, tests and benchmark.

Each document `NAME.ext` (PNG, JPEG, multi-page PDF or multi-page TIFF) has a `NAME.truth.json`
beside it:

```json
{
  "source": "doc_00000.pdf",
  "form": "kokunen_hihokensha_todoke",
  "pages": ["form", "blank"],          // kind of each page of the file, in file order
  "form_pages": [1, null],             // which page of the form each page shows
  "orientation": [0, 180],             // degrees the page was fed rotated (180: upside down)
  "fields": {"my_number": "123456789018", "name": "山田\u3000太郎", ...},  // canonical values
  "effects": {"format": "pdf", "dpi": 200, "color_mode": "gray", "strength": 0.8,
              "jpeg_quality": 85, "handwriting": {...}, "pages": [{...ScanEffects...}, ...]},
  "seed": 1234567,                     // the document's own seed: render_document(form, seed)
  "corpus_seed": 7
}
```

Canonical field values are described in `kura.bench.synth.values`.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from kura.bench.synth.handwriting import HandStyle, fill_form
from kura.bench.synth.scanner import (
    SCANNER_EFFECTS,
    ColorMode,
    ScanEffects,
    blank_back_page,
    effect_dpi,
    random_effects,
    scan,
    with_effect,
)
from kura.bench.synth.values import Value, ValueOptions, generate_values
from pipeline.fields import canonical_text
from pipeline.template import MARK_SIZE, registration_marks
from schemas.forms import FormDef, get_form, load_forms

Format = Literal["png", "jpg", "pdf", "tif"]
EXTENSIONS: dict[str, str] = {"png": ".png", "jpg": ".jpg", "pdf": ".pdf", "tif": ".tif"}
FORMAT_WEIGHTS: dict[Format, float] = {"png": 0.3, "jpg": 0.3, "pdf": 0.25, "tif": 0.15}
BLANK_BACK_RATE = 0.4
"""Multi-page files: chance the sheet was scanned duplex, each form page followed by its back."""
UPSIDE_DOWN_RATE = 0.06


@dataclass(frozen=True)
class Plan:
    """The choices that shape one document (everything else follows from its seed)."""

    format: Format | None = None
    blank_back: bool | None = None
    upside_down: bool | None = None
    """True: the first form page is fed upside down; None: each page at `UPSIDE_DOWN_RATE`."""
    strength: float | None = None
    mild: bool = False
    """Demo quality: light scanner effects, grey or colour, no required field left blank."""
    effect: str | None = None
    """A named scanner effect (`scanner.SCANNER_EFFECTS`) on top of the office scan."""
    digits: str = "font"
    """What writes the digits: the handwriting font, or real samples ("mnist")."""


# The first documents of every corpus cover each format and page kind, so that even a small
# corpus (tests, `--quick`) exercises PDF, TIFF, blank back pages and upside-down pages.
GUARANTEED: tuple[Plan, ...] = (
    Plan(format="pdf", blank_back=True, upside_down=False),
    Plan(format="tif", blank_back=False, upside_down=True),
    Plan(format="png", upside_down=False),
    Plan(format="jpg", upside_down=False),
)


def truth_path(document: Path) -> Path:
    """`doc_00001.pdf` → `doc_00001.truth.json`."""
    return document.with_name(document.stem + ".truth.json")


def document_seed(corpus_seed: int, index: int) -> int:
    """A stable per-document seed, independent of the documents before it."""
    digest = hashlib.sha256(f"kura-synth:{corpus_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def render_document(
    form: FormDef | str,
    seed: int,
    *,
    plan: Plan | None = None,
    quick: bool = False,
) -> tuple[list[Image.Image], dict[str, Any]]:
    """The scanned pages of one filled-in document and its truth (without "source")."""
    form = get_form(form) if isinstance(form, str) else form
    plan = plan or Plan()
    rng = random.Random(seed)
    # Demo samples (mild) leave no required field blank; the corpus does, now and then.
    values = generate_values(
        form, rng, ValueOptions(required_empty_rate=0.0) if plan.mild else None
    )
    style = HandStyle(digits=plan.digits).resolve(rng)
    sheets = fill_form(form, values, rng, style)

    fmt = plan.format or _pick_format(rng)
    if form.pages > 1 and fmt in ("png", "jpg"):
        fmt = "pdf"
    multi = fmt in ("pdf", "tif")
    blank_back = (
        plan.blank_back
        if plan.blank_back is not None
        else (multi and rng.random() < BLANK_BACK_RATE)
    )
    strength = (
        plan.strength
        if plan.strength is not None
        else (rng.uniform(0.15, 0.45) if plan.mild else rng.uniform(0.3, 1.3))
    )
    dpi = (effect_dpi(plan.effect, rng) if plan.effect else None) or (
        200 if quick else rng.choice((200, 240, 300, 300))
    )
    if plan.effect in ("no_marks", "all"):
        sheets = [without_marks(sheet, form) for sheet in sheets]
    color_mode = _pick_colour(rng, fmt, quick, plan.mild)
    # The JPEG quality the file itself is written with (JPEG, and PDF/TIFF pages in grey or
    # colour); None for PNG and for 1-bit pages (CCITT G4).
    file_quality = None
    if fmt != "png" and color_mode != "bw":
        file_quality = rng.randint(85, 95) if plan.mild else rng.randint(60, 95)

    kinds: list[str] = []
    form_pages: list[int | None] = []
    pages: list[Image.Image] = []
    page_effects: list[dict[str, object]] = []
    orientations: list[int] = []
    for number, sheet in enumerate(sheets, start=1):
        upside_down = (
            plan.upside_down and number == 1
            if plan.upside_down is not None
            else (not plan.mild and rng.random() < UPSIDE_DOWN_RATE)
        )
        effects = _effects(rng, strength, dpi, color_mode, fmt, quick, bool(upside_down))
        if plan.effect:
            effects = with_effect(effects, plan.effect, rng)
        orientations.append(effects.orientation)
        pages.append(scan(sheet, effects, rng, source_dpi=form.dpi))
        kinds.append("form")
        form_pages.append(number)
        page_effects.append(effects.as_dict())
        if blank_back:
            back = blank_back_page(sheet.size, rng, front=sheet, bleed=rng.uniform(0.02, 0.08))
            effects = _effects(rng, strength, dpi, color_mode, fmt, quick, False)
            orientations.append(effects.orientation)
            pages.append(scan(back, effects, rng, source_dpi=form.dpi))
            kinds.append("blank")
            form_pages.append(None)
            page_effects.append(effects.as_dict())

    truth: dict[str, Any] = {
        "form": form.id,
        "pages": kinds,
        "form_pages": form_pages,
        "orientation": orientations,
        "fields": canonical_truth(form, values),
        "effects": {
            "format": fmt,
            "dpi": dpi,
            "color_mode": color_mode,
            "strength": round(strength, 3),
            "scanner_effect": plan.effect or "office",
            "jpeg_quality": file_quality,
            "handwriting": style.as_dict(),
            "pages": page_effects,
        },
        "seed": seed,
    }
    return pages, truth


def without_marks(sheet: Image.Image, form: FormDef) -> Image.Image:
    """The sheet as printed from another PDF: no corner marks of Kura's."""
    clean = sheet.copy()
    half = MARK_SIZE // 2 + 4
    for cx, cy in registration_marks(form):
        clean.paste((255, 255, 255), (cx - half, cy - half, cx + half, cy + half))
    return clean


def _pick_format(rng: random.Random) -> Format:
    formats = list(FORMAT_WEIGHTS)
    return rng.choices(formats, weights=[FORMAT_WEIGHTS[f] for f in formats])[0]


def _pick_colour(rng: random.Random, fmt: Format, quick: bool, mild: bool) -> ColorMode:
    if quick:
        return "bw" if fmt == "tif" else "gray"
    if fmt == "jpg" or mild:  # a JPEG is never 1-bit; demo samples are grey or colour
        return "rgb" if rng.random() < 0.5 else "gray"
    # Noisy colour PNGs are huge (8 MB at 300 dpi): office scanners mostly send grey or 1-bit.
    weights = (0.15, 0.55, 0.3) if fmt == "png" else (0.4, 0.4, 0.2)
    choice: ColorMode = rng.choices(("rgb", "gray", "bw"), weights=weights)[0]
    return choice


def _effects(
    rng: random.Random,
    strength: float,
    dpi: int,
    color_mode: ColorMode,
    fmt: Format,
    quick: bool,
    upside_down: bool,
) -> ScanEffects:
    # The file's own compression stands for the scanner's JPEG: no second round trip.
    effects = random_effects(
        rng,
        strength,
        dpi=dpi,
        color_mode=color_mode,
        upside_down_rate=0.0,
        jpeg=fmt == "png" and not quick and rng.random() < 0.3,
    )
    if quick:
        effects = replace(effects, blur=0.0, noise=min(effects.noise, 2.0))
    return replace(effects, upside_down=upside_down)


def write_document(
    out_dir: Path,
    name: str,
    pages: list[Image.Image],
    truth: dict[str, Any],
    *,
    quick: bool = False,
) -> Path:
    """Save `pages` as `name` + the format's extension, and the truth JSON beside it."""
    effects = truth["effects"]
    fmt: Format = effects["format"]
    dpi = int(effects["dpi"])
    quality = int(effects["jpeg_quality"] or 90)
    path = out_dir / f"{name}{EXTENSIONS[fmt]}"
    first, rest = pages[0], pages[1:]
    if fmt == "png":
        first.save(path, "PNG", dpi=(dpi, dpi), compress_level=1 if quick else 3)
    elif fmt == "jpg":
        first.save(path, "JPEG", dpi=(dpi, dpi), quality=quality)
    elif fmt == "pdf":
        # A fixed date keeps the file byte-identical per seed.
        stamp = time.gmtime(1_700_000_000 + truth["seed"] % 50_000_000)
        # Pillow embeds 1-bit pages as CCITT G4, which takes no JPEG quality.
        jpeg: dict[str, Any] = {} if first.mode == "1" else {"quality": quality}
        first.save(
            path,
            "PDF",
            save_all=True,
            append_images=rest,
            resolution=float(dpi),
            **jpeg,
            creationDate=stamp,
            modDate=stamp,
            producer="Kura synth",
        )
    else:
        compression = "group4" if first.mode == "1" else "jpeg"
        extra: dict[str, Any] = {"quality": quality} if compression == "jpeg" else {}
        first.save(
            path,
            "TIFF",
            save_all=True,
            append_images=rest,
            dpi=(dpi, dpi),
            compression=compression,
            **extra,
        )
    record = {"source": path.name, **truth}
    truth_path(path).write_text(
        json.dumps(record, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )
    return path


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to truth JSON")


def generate_corpus(
    out_dir: Path | str,
    forms: int,
    seed: int,
    form_ids: list[str] | None = None,
    quick: bool = False,
    wide: bool = False,
    digits: str = "font",
) -> list[Path]:
    """Write `forms` documents (and their truth JSON) into `out_dir`; returns the documents.

    Mostly single-page PNG/JPEG, some multi-page PDF and TIFF, some with blank back pages,
    a few pages upside down. The first four documents are always a PDF with a blank back page,
    a TIFF whose form page is upside down, a PNG and a JPEG. `quick` trades realism for speed
    (200 dpi grey/1-bit, no blur): for tests and smoke runs. `wide` adds to each document
    one named scanner effect in turn (`SCANNER_EFFECTS`), recorded in its truth; `digits`
    "mnist" writes every digit with real handwritten samples (the MNIST part kept for
    measuring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = (
        list(form_ids)
        if form_ids
        else sorted(fid for fid, f in load_forms().items() if f.kind == "form")
    )
    if not ids:
        raise ValueError("no form definitions to fill")
    picker = random.Random(seed)
    paths = []
    for index in range(forms):
        form = get_form(ids[index % len(ids)] if index < len(ids) else picker.choice(ids))
        plan = GUARANTEED[index] if index < len(GUARANTEED) else Plan()
        if wide:
            plan = replace(plan, effect=SCANNER_EFFECTS[index % len(SCANNER_EFFECTS)])
        plan = replace(plan, digits=digits)
        doc_seed = document_seed(seed, index)
        pages, truth = render_document(form, doc_seed, plan=plan, quick=quick)
        truth["corpus_seed"] = seed
        paths.append(write_document(out, f"doc_{index:05d}", pages, truth, quick=quick))
    return paths


def make_sample_scans(out_dir: Path | str, count: int, seed: int) -> list[Path]:
    """A handful of clean-ish but realistic single-page scans for the demo (PNG and JPEG, right
    side up, mild effects), each with its truth JSON beside it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = sorted(fid for fid, f in load_forms().items() if f.kind == "form")
    paths = []
    for index in range(count):
        form = get_form(ids[index % len(ids)])
        fmt: Format = "png" if index % 2 == 0 else "jpg"
        if form.pages > 1:
            fmt = "pdf"
        plan = Plan(format=fmt, blank_back=False, upside_down=False, mild=True)
        doc_seed = document_seed(seed, index)
        pages, truth = render_document(form, doc_seed, plan=plan)
        truth["corpus_seed"] = seed
        paths.append(write_document(out, f"sample_{index:03d}", pages, truth))
    return paths


__all__ = [
    "Plan",
    "document_seed",
    "generate_corpus",
    "make_sample_scans",
    "render_document",
    "truth_path",
    "write_document",
]


def canonical_truth(form: FormDef, values: dict[str, Value]) -> dict[str, str]:
    """The truth as Kura's extraction contract writes values: strings only, checkboxes
    "true"/"false", names and addresses without the spaces written between their parts."""
    canonical: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            canonical[name] = "true" if value else "false"
        elif form.field(name).type == "text":
            canonical[name] = canonical_text(value)
        else:
            canonical[name] = value
    return canonical
