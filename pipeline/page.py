"""One page through the stages, and pages assembled into documents.

This is the composition both runners call: the Celery task for a page and the in-process
runner run exactly this.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline import (
    align,
    classify,
    cleanup,
    digits,
    fields,
    lexicon,
    listchecks,
    read,
    readings,
    register,
    routes,
    separator,
    tables,
    variants,
)
from pipeline.crosscheck import cross_check, vouch_for_towns
from pipeline.ingest import TARGET_DPI, PageImage
from pipeline.ocr import get_engine
from pipeline.rawfield import RawField
from pipeline.template import registration_marks, render_blank
from schemas.calibration import calibration
from schemas.contracts import DocumentResult, FieldResult, PageResult
from schemas.forms import FieldDef, FormDef, get_form, load_forms

ACCEPT_CONFIDENCE: dict[str, float] = calibration().accept_confidence
"""Lowest confidence accepted without a person, per field type: the data and its provenance
are in schemas/calibration.yaml; `kura bench calibrate` re-derives them from a corpus."""


def decide(field: FieldDef, raw: RawField) -> FieldResult:
    text, runners_up = raw.text, raw.runners_up
    if field.type in ("text", "kana"):
        text, runners_up = lexicon.settle_by_script(text, runners_up)
    normalised = fields.normalise(field, text)
    seen = {f"variant_kanji:{ch}" for ch in raw.variants_seen}  # the form is settled
    reasons = list(raw.notes) + [r for r in normalised.reasons if r not in seen]
    reasons += [f"doubt:{pair}" for pair in lexicon.doubts(runners_up)]
    if normalised.value and not reasons and raw.confidence < ACCEPT_CONFIDENCE[field.type]:
        reasons.append("low_confidence")
    return FieldResult(
        value=normalised.value,
        raw=raw.text,
        confidence=round(raw.confidence, 4),
        status="review" if reasons else "accepted",
        reasons=reasons,
        engine=raw.engine,
        box=field.box,
    )


def process_page(
    page: PageImage, forms: list[FormDef] | None = None, engine: str | None = None
) -> PageResult:
    return read_page(page, forms, engine)[0]


class StageClock:
    """Seconds spent in each named stage of one page, for `kura bench`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + elapsed, 5)


def warm_up() -> None:
    """Load what reading a page needs (the forms, their templates and marks, each routed
    OCR session, the digit model, the variant networks) and run each model once, so that a
    worker's first page costs what every other page costs: a new worker process calls this
    before its first task, as the in-process benchmark warms up before it times anything."""
    form = next(f for f in load_forms().values() if f.kind == "form")
    read_page(PageImage(1, np.asarray(render_blank(form).convert("RGB")), TARGET_DPI))
    for name in sorted(set(routes.ROUTES.values())):
        get_engine(name).read_line(np.full((48, 160), 255, np.uint8))
    digits.probabilities(np.zeros((1, 784), np.float32))
    variants.warm_up()


def read_page(
    page: PageImage, forms: list[FormDef] | None = None, engine: str | None = None
) -> tuple[PageResult, np.ndarray]:
    """The page's result and the image it was read from (aligned to its template when it
    was recognised, else as cleaned)."""
    known = forms if forms is not None else list(load_forms().values())
    forms = [f for f in known if f.kind == "form"]
    lists = [f for f in known if f.kind == "table"]
    clock = StageClock()
    with clock("cleanup"):
        rgb, rotation = cleanup.to_portrait(page.image)
        rgb = cleanup.remove_dark_border(rgb)
        blank = cleanup.is_blank(cleanup.to_gray(rgb))
    if blank:
        return PageResult(
            number=page.number, timings=clock.seconds, kind="blank", rotation=rotation
        ), rgb
    with clock("register"):
        registration, failure = _register_any(rgb, forms)
    if registration is None:
        # The marks fit any skew they can be found at; deskewing first helps find them
        # on a page turned far enough to push a mark out of its corner.
        with clock("cleanup"):
            rgb, _ = cleanup.deskew(rgb)
        with clock("register"):
            registration, failure = _register_any(rgb, forms)
    if registration is None and separator.is_separator(cleanup.to_gray(rgb)):
        return PageResult(
            number=page.number, timings=clock.seconds, kind="separator", rotation=rotation
        ), rgb
    if registration is None and lists:
        # A printed list has no registration marks: read it as a table, as printed (a
        # landscape list is read the long way, not turned to portrait).
        with clock("table"):
            listed = _read_list(page, lists)
        if listed is not None:
            listed.timings = clock.seconds
            return listed, rgb
    fitted = None
    if registration is not None:
        fitted = _fit(registration.image, forms, clock)
    if fitted is None or isinstance(fitted, str):
        # no marks, marks of ours in the wrong places, or a page not printed by Kura:
        # align by the printed content
        with clock("register"):
            by_content = _register_by_content(rgb, forms)
        if by_content is not None:
            content_fit = _fit(by_content[0], forms, clock, by_content[1])
            if not isinstance(content_fit, str) or fitted is None:
                fitted = content_fit
    if fitted is None:
        return PageResult(
            number=page.number,
            timings=clock.seconds,
            kind="unknown",
            rotation=rotation,
            reasons=[f"not_aligned: {failure}; the printed content matches no form either"],
        ), rgb
    if isinstance(fitted, str):
        return PageResult(
            number=page.number,
            timings=clock.seconds,
            kind="unknown",
            rotation=rotation,
            reasons=[fitted],
        ), rgb
    registered = fitted.refined.image
    residual = round(fitted.refined.residual_px, 2)
    if fitted.upside_down:
        rotation = (rotation + 180) % 360
    form = next(f for f in forms if f.id == fitted.form_id)
    with clock("read"):
        raw = read.read_page_fields(registered, form, fitted.page, engine)
    with clock("validate"):
        decided = {name: decide(form.field(name), value) for name, value in raw.items()}
        readings.settle_kana(form, {name: value.runners_up for name, value in raw.items()}, decided)
        vouch_for_towns(form, raw, decided)
    result = PageResult(
        number=page.number,
        timings=clock.seconds,
        kind="form",
        form=form.id,
        form_page=fitted.page,
        rotation=rotation,
        residual_px=residual,
        fields=decided,
    )
    return result, registered


def _read_list(page: PageImage, lists: list[FormDef]) -> PageResult | None:
    """The page read as the first list whose header row it prints, or None. Lists are read
    by PP-OCR whatever engine forms are read with: the reader needs its CTC readings."""
    image = cleanup.remove_dark_border(page.image)
    for form in lists:
        try:
            found = tables.read_list_page(image, form)
        except tables.ListLayoutError:
            continue
        return PageResult(
            number=page.number, kind="table", form=form.id, rotation=found.rotation,
            reasons=found.reasons, fields=found.header, rows=found.rows,
            list_page=found.page, list_pages=found.of, printed_total=found.printed_total,
        )
    return None


def _register_any(
    rgb: np.ndarray, forms: list[FormDef]
) -> tuple[register.Registration | None, str]:
    failure = "no form of this page size"
    for size in {form.size_px for form in forms}:
        try:
            return register.register(rgb, registration_marks_for(size, forms), size), ""
        except register.NotAligned as error:
            failure = error.reason
    return None, failure


@dataclass(frozen=True)
class Fitted:
    """A page aligned to its form page, the right way up."""

    form_id: str
    page: int
    upside_down: bool
    refined: align.Refined


def _register_by_content(
    rgb: np.ndarray, forms: list[FormDef]
) -> tuple[np.ndarray, tuple[str, int]] | None:
    fit = align.by_content(rgb, forms)
    if fit is None:
        return None
    size = next(f.size_px for f in forms if f.id == fit.form_id)
    return align.warp(rgb, fit.matrix, size), (fit.form_id, fit.page)


def _fit(
    registered: np.ndarray,
    forms: list[FormDef],
    clock: StageClock,
    matched: tuple[str, int] | None = None,
) -> Fitted | str:
    """Which form page the registered page is, and the page fitted to that page's print;
    or the reason it is none (unknown form, or content that does not fit). A page aligned
    by its content (`matched`: the form page it matched) is refined before it is
    classified, since the coarse fit may be a few millimetres off."""
    if matched is not None:
        with clock("refine"):
            refined = align.refine(registered, *matched)
        registered = refined.image
    with clock("classify"):
        found = classify.classify(registered, forms)
    if found.form_id is None or found.page is None:
        return f"unknown_form: best match {found.score:.2f}"
    if matched is not None and (found.form_id, found.page) != matched:
        return f"unknown_form: the print matches {matched[0]}, the page {found.form_id}"
    if found.upside_down:
        registered = cv2.rotate(registered, cv2.ROTATE_180)
    if matched is None:
        with clock("refine"):
            refined = align.refine(registered, found.form_id, found.page)
    if refined.residual_px > align.MAX_CONTENT_RESIDUAL_PX:
        return f"not_aligned: page does not fit the form (residual {refined.residual_px:.1f} px)"
    return Fitted(found.form_id, found.page, found.upside_down, refined)


def registration_marks_for(size: tuple[int, int], forms: list[FormDef]) -> list[tuple[int, int]]:
    return registration_marks(next(f for f in forms if f.size_px == size))


def assemble(source: str, pages: list[PageResult]) -> list[DocumentResult]:
    """Split a file's pages into documents at each form's first page and at separator
    sheets. A blank page stays with the document it follows and holds no fields; a page of
    no known form stays with it too, for a person to look at, or stands alone when no
    document is open."""
    documents: list[DocumentResult] = []
    current: DocumentResult | None = None
    list_pages: dict[int, list[PageResult]] = {}
    for page in pages:
        if page.kind == "table":
            current = listchecks.add_list_page(documents, list_pages, source, page)
        elif page.kind == "unknown" and current is not None:
            current.pages.append(page.number)
            current.reasons.append(f"unknown_page_{page.number}")
        elif page.kind == "unknown":
            documents.append(
                DocumentResult(
                    source=source, pages=[page.number], form=None, fields={}, reasons=page.reasons
                )
            )
        elif page.kind == "separator":
            current = None
        elif page.kind == "blank":
            if current is not None:
                current.pages.append(page.number)
                current.reasons.append(f"blank_page_{page.number}")
        elif current is None or page.form != current.form or page.form_page == 1:
            current = DocumentResult(
                source=source, pages=[page.number], form=page.form, fields=dict(page.fields)
            )
            documents.append(current)
        else:
            current.pages.append(page.number)
            current.fields.update(page.fields)
    for index, document in enumerate(documents):
        if index in list_pages:
            mine = document.pages
            others = [p.number for i, ps in list_pages.items() if i != index for p in ps
                      if mine[0] < p.number < mine[-1]]
            listchecks.check_list(document, list_pages[index], others)
        elif document.form is not None:
            cross_check(get_form(document.form), document.fields)
    return documents


def page_image_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """The page as people will see it beside its fields."""
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("page image could not be encoded")
    return encoded.tobytes()
