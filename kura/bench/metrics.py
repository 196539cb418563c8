"""Scoring a pipeline run against the corpus ground truth. Pure functions, no I/O.

One scanned file has one truth record (`NAME.truth.json`, see `kura.bench.synth.corpus`) and,
from the pipeline, one `PageResult` per page and the `DocumentResult`s `assemble` made of them.
`score_file` turns that into outcomes per field, per page and for the document;
`summarise` aggregates the outcomes of many files into the numbers `kura bench` reports.

Definitions (docs/benchmarks.md repeats them):

- a field is *right* when its canonical value equals the truth exactly (a checkbox's truth
  `true`/`false` compares with the strings `"true"`/`"false"`);
- a field is *accepted* or *review* as the pipeline decided; *missing* when the pipeline
  produced no value for it at all (its page was not recognised as the truth's form): such a
  document goes to a person, so a missing field counts as sent to review;
- *silent error*: accepted AND wrong. The silent error rate is over all fields;
  the accepted error rate is over accepted fields only;
- wrong_caught_rate: of the wrong fields, the share a person gets to see (review or
  missing); review_right: fields sent to review that were right all along (needless work);
- CER: Levenshtein distance over the truth's length, aggregated as the sum of distances over
  the sum of truth lengths;
- a document goes *straight through* when its file became exactly one document, of a known
  form, with no field for review;
- a page is classified *right* when its kind (form or blank) and, for a form page, its form
  and page of the form match the truth; a form page read as another form is a *silent
  misclassification*, counted apart from pages left *unknown* (which a person sees).
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.contracts import DocumentResult, FieldResult, PageResult

FieldStatus = Literal["accepted", "review", "missing"]
PageVerdict = Literal["right", "wrong_form", "unknown", "form_as_blank", "blank_as_form", "missing"]
SILENT_PAGE_VERDICTS: frozenset[str] = frozenset({"wrong_form", "form_as_blank", "blank_as_form"})


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1), by code point."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def cer(truth: str, value: str) -> float:
    """Character error rate of one value: edits over the truth's length. An empty truth
    scores 0.0 when nothing was read and 1.0 when something was."""
    if not truth:
        return 0.0 if not value else 1.0
    return levenshtein(truth, value) / len(truth)


def canonical_truth(value: object) -> str:
    """The truth as the string the extraction contract would print for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _squeeze(text: str) -> str:
    """Without any kind of white space (ASCII or U+3000): for the loose comparison."""
    return "".join(text.split())


@dataclass(frozen=True)
class FieldOutcome:
    source: str
    name: str
    type: str
    truth: str
    value: str
    status: FieldStatus
    confidence: float = 0.0
    engine: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def right(self) -> bool:
        return self.value == self.truth

    @property
    def right_ignoring_space(self) -> bool:
        return _squeeze(self.value) == _squeeze(self.truth)

    @property
    def silent(self) -> bool:
        return self.status == "accepted" and not self.right

    @property
    def edits(self) -> int:
        return levenshtein(self.truth, self.value)


@dataclass(frozen=True)
class PageOutcome:
    source: str
    number: int
    truth_kind: str
    """"form" or "blank"."""
    truth_form: str | None
    truth_form_page: int | None
    truth_orientation: int
    kind: str | None
    """What the pipeline said: "form", "blank", "unknown"; None when it has no such page."""
    form: str | None = None
    form_page: int | None = None
    rotation: int | None = None

    @property
    def verdict(self) -> PageVerdict:
        if self.kind is None:
            return "missing"
        if self.kind == "unknown":
            return "unknown"
        if self.truth_kind == "blank":
            return "right" if self.kind == "blank" else "blank_as_form"
        if self.kind == "blank":
            return "form_as_blank"
        if self.form == self.truth_form and self.form_page == self.truth_form_page:
            return "right"
        return "wrong_form"

    @property
    def orientation_right(self) -> bool:
        return self.rotation is not None and self.rotation % 360 == self.truth_orientation % 360


@dataclass(frozen=True)
class RowsOutcome:
    """Result-list rows (処理結果一覧表): how many truth rows were read exactly."""

    rows: int
    exact: int
    predicted_rows: int


@dataclass(frozen=True)
class DocumentOutcome:
    source: str
    form: str
    predicted_forms: tuple[str | None, ...]
    """The form of each document the pipeline made of the file."""
    straight_through: bool
    all_right: bool
    """Every field right (whatever its status) and exactly one document of the right form."""
    rows: RowsOutcome | None = None


@dataclass(frozen=True)
class FileScore:
    document: DocumentOutcome
    fields: list[FieldOutcome]
    pages: list[PageOutcome]


def row_exact_match(
    truth_rows: Sequence[Mapping[str, object]],
    predicted_rows: Sequence[Mapping[str, FieldResult]] | None,
) -> RowsOutcome:
    """Row i of the truth is right when predicted row i has every column's value exactly.

    The hook for result lists (処理結果一覧表); no form defines rows yet."""
    predicted = list(predicted_rows or [])
    exact = 0
    for index, truth_row in enumerate(truth_rows):
        if index >= len(predicted):
            break
        row = predicted[index]
        exact += all(
            column in row and row[column].value == canonical_truth(value)
            for column, value in truth_row.items()
        )
    return RowsOutcome(rows=len(truth_rows), exact=exact, predicted_rows=len(predicted))


def score_file(
    truth: Mapping[str, Any],
    pages: Sequence[PageResult],
    documents: Sequence[DocumentResult],
    field_types: Mapping[str, str],
) -> FileScore:
    """Outcomes of one scanned file. `field_types` maps each of the truth form's field names
    to its type (from the form definition)."""
    source = str(truth.get("source", ""))
    form = str(truth["form"])
    matching = [d for d in documents if d.form == form]
    predicted: dict[str, FieldResult] = {}
    for found in matching:
        for name, value in found.fields.items():
            predicted.setdefault(name, value)

    fields = []
    for name, raw_truth in truth["fields"].items():
        expected = canonical_truth(raw_truth)
        kind = field_types.get(name, "text")
        got = predicted.get(name)
        if got is None:
            fields.append(FieldOutcome(source, name, kind, expected, "", "missing"))
        else:
            fields.append(
                FieldOutcome(
                    source,
                    name,
                    kind,
                    expected,
                    got.value,
                    got.status,
                    got.confidence,
                    got.engine,
                    tuple(got.reasons),
                )
            )

    kinds = list(truth.get("pages", []))
    form_pages = list(truth.get("form_pages") or _form_pages(kinds))
    orientation = list(truth.get("orientation") or [0] * len(kinds))
    by_number = {page.number: page for page in pages}
    page_outcomes = []
    for index, kind in enumerate(kinds):
        got_page = by_number.get(index + 1)
        page_outcomes.append(
            PageOutcome(
                source=source,
                number=index + 1,
                truth_kind=kind,
                truth_form=form if kind == "form" else None,
                truth_form_page=form_pages[index] if kind == "form" else None,
                truth_orientation=int(orientation[index] or 0),
                kind=got_page.kind if got_page else None,
                form=got_page.form if got_page else None,
                form_page=got_page.form_page if got_page else None,
                rotation=got_page.rotation if got_page else None,
            )
        )

    straight = len(documents) == 1 and not documents[0].needs_review
    all_right = len(documents) == 1 and documents[0].form == form and all(f.right for f in fields)
    rows = None
    if truth.get("rows") is not None:
        rows = row_exact_match(truth["rows"], matching[0].rows if matching else None)
    document = DocumentOutcome(
        source, form, tuple(d.form for d in documents), straight, all_right, rows
    )
    return FileScore(document, fields, page_outcomes)


def _form_pages(kinds: Sequence[str]) -> list[int | None]:
    numbers: list[int | None] = []
    count = 0
    for kind in kinds:
        if kind == "form":
            count += 1
            numbers.append(count)
        else:
            numbers.append(None)
    return numbers


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def field_stats(outcomes: Iterable[FieldOutcome]) -> dict[str, Any]:
    """Exact match, CER, acceptance and silent errors over a set of field outcomes."""
    items = list(outcomes)
    n = len(items)
    right = sum(o.right for o in items)
    accepted = sum(o.status == "accepted" for o in items)
    review = sum(o.status == "review" for o in items)
    missing = sum(o.status == "missing" for o in items)
    silent = sum(o.silent for o in items)
    wrong = n - right
    truth_chars = sum(len(o.truth) for o in items)
    edits = sum(o.edits for o in items)
    return {
        "fields": n,
        "exact": right,
        "exact_rate": _rate(right, n),
        "exact_ignoring_space_rate": _rate(sum(o.right_ignoring_space for o in items), n),
        "cer": round(edits / truth_chars, 4) if truth_chars else (0.0 if n and not edits else None),
        "accepted": accepted,
        "review": review,
        "review_right": sum(o.status == "review" and o.right for o in items),
        "missing": missing,
        "silent_errors": silent,
        "silent_error_rate": _rate(silent, n),
        "accepted_error_rate": _rate(silent, accepted),
        "review_rate": _rate(review + missing, n),
        "wrong_caught_rate": _rate(wrong - silent, wrong),
    }


def page_stats(outcomes: Iterable[PageOutcome]) -> dict[str, Any]:
    items = list(outcomes)
    verdicts: Counter[str] = Counter(o.verdict for o in items)
    form_pages = [o for o in items if o.truth_kind == "form"]
    form_right = sum(o.verdict == "right" for o in form_pages)
    upside_down = [o for o in form_pages if o.truth_orientation % 360 == 180]
    return {
        "pages": len(items),
        "right": verdicts["right"],
        "accuracy": _rate(verdicts["right"], len(items)),
        "wrong_form": verdicts["wrong_form"],
        "unknown": verdicts["unknown"],
        "form_as_blank": verdicts["form_as_blank"],
        "blank_as_form": verdicts["blank_as_form"],
        "missing": verdicts["missing"],
        "silent_misclassified": sum(verdicts[v] for v in SILENT_PAGE_VERDICTS),
        "form_pages": len(form_pages),
        "form_page_accuracy": _rate(form_right, len(form_pages)),
        "upside_down_pages": len(upside_down),
        "upside_down_read": sum(o.verdict == "right" and o.orientation_right for o in upside_down),
    }


def document_stats(outcomes: Iterable[DocumentOutcome]) -> dict[str, Any]:
    items = list(outcomes)
    straight = [o for o in items if o.straight_through]
    return {
        "documents": len(items),
        "straight_through": len(straight),
        "straight_through_rate": _rate(len(straight), len(items)),
        "straight_through_right": sum(o.all_right for o in straight),
        "straight_through_wrong": sum(not o.all_right for o in straight),
        "all_right": sum(o.all_right for o in items),
    }


def table_stats(outcomes: Iterable[DocumentOutcome]) -> dict[str, Any]:
    rows = [o.rows for o in outcomes if o.rows is not None]
    total = sum(r.rows for r in rows)
    return {
        "documents": len(rows),
        "rows": total,
        "row_exact": sum(r.exact for r in rows),
        "row_exact_rate": _rate(sum(r.exact for r in rows), total),
    }


@dataclass
class Summary:
    """Everything `kura bench` reports about recognition for one run."""

    fields: dict[str, Any]
    by_type: dict[str, dict[str, Any]]
    documents: dict[str, Any]
    classification: dict[str, Any]
    tables: dict[str, Any]
    silent_errors: list[dict[str, Any]] = field(default_factory=list)
    review_reasons: dict[str, int] = field(default_factory=dict)
    """How often each reason sent a field to review (a field may have several)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "fields": self.fields,
            "by_type": self.by_type,
            "documents": self.documents,
            "classification": self.classification,
            "tables": self.tables,
            "silent_errors": self.silent_errors,
            "review_reasons": self.review_reasons,
        }


def summarise(scores: Sequence[FileScore], silent_error_limit: int = 200) -> Summary:
    fields = [f for s in scores for f in s.fields]
    types = sorted({f.type for f in fields})
    silent = [
        {
            "source": f.source,
            "field": f.name,
            "type": f.type,
            "truth": f.truth,
            "value": f.value,
            "confidence": f.confidence,
            "engine": f.engine,
        }
        for f in fields
        if f.silent
    ][:silent_error_limit]
    return Summary(
        fields=field_stats(fields),
        by_type={t: field_stats(f for f in fields if f.type == t) for t in types},
        documents=document_stats(s.document for s in scores),
        classification=page_stats(p for s in scores for p in s.pages),
        tables=table_stats(s.document for s in scores),
        silent_errors=silent,
        review_reasons=dict(
            Counter(r for f in fields if f.status == "review" for r in f.reasons).most_common()
        ),
    )


def median(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(statistics.median(items), 5) if items else None


BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)


def reliability(fields: Iterable[FieldOutcome]) -> dict[str, list[dict[str, Any]]]:
    """Per field type and confidence bin: how many readings, and the share right."""
    by_type: dict[str, list[FieldOutcome]] = {}
    for outcome in fields:
        if outcome.truth or outcome.value:  # an empty field read empty says nothing
            by_type.setdefault(outcome.type, []).append(outcome)
    table: dict[str, list[dict[str, Any]]] = {}
    for kind, items in sorted(by_type.items()):
        rows = []
        for low, high in itertools.pairwise(BINS):
            inside = [f for f in items if low <= f.confidence < high]
            if inside:
                rows.append(
                    {
                        "low": low,
                        "high": min(high, 1.0),
                        "fields": len(inside),
                        "accuracy": round(sum(f.right for f in inside) / len(inside), 4),
                    }
                )
        table[kind] = rows
    return table
