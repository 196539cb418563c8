"""`kura bench`: the metrics on a tiny corpus with known answers, and one quick real run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Literal

import pytest

from kura.bench.metrics import (
    cer,
    field_stats,
    levenshtein,
    row_exact_match,
    score_file,
    summarise,
)
from kura.bench.servers import KURA, kura_env
from schemas.contracts import DocumentResult, FieldResult, FieldStatus, PageResult
from schemas.reasons import describe

PageKind = Literal["form", "blank", "unknown"]
TYPES = {
    "my_number": "my_number",
    "bpn": "bpn",
    "name": "text",
    "birth_date": "date",
    "sex": "choice",
    "agree": "checkbox",
}
TRUTH_FIELDS: dict[str, Any] = {
    "my_number": "123456789018",
    "bpn": "1234567890",
    "name": "山田\u3000太郎",
    "birth_date": "1980-04-01",
    "sex": "1",
    "agree": True,
}


def _field(value: str, status: FieldStatus = "accepted", confidence: float = 0.9) -> FieldResult:
    return FieldResult(
        value=value,
        raw=value,
        confidence=confidence,
        status=status,
        reasons=[] if status == "accepted" else ["low_confidence"],
        engine="ppocr",
    )


def _truth(source: str, pages: list[str], orientation: list[int] | None = None) -> dict[str, Any]:
    return {
        "source": source,
        "form": "todoke",
        "pages": pages,
        "orientation": orientation or [0] * len(pages),
        "fields": dict(TRUTH_FIELDS),
    }


def _page(
    number: int,
    kind: PageKind,
    form: str | None = None,
    form_page: int | None = None,
    rotation: int = 0,
) -> PageResult:
    return PageResult(number=number, kind=kind, form=form, form_page=form_page, rotation=rotation)


@pytest.fixture
def scores() -> list[Any]:
    # a.pdf: right form, a blank back page; one wrong ACCEPTED field (bpn: a silent error),
    # one wrong field in review (name: caught), one right field in review (birth_date).
    a_fields = {
        "my_number": _field("123456789018"),
        "bpn": _field("1234567899"),
        "name": _field("山田\u3000大郎", "review", 0.3),
        "birth_date": _field("1980-04-01", "review", 0.4),
        "sex": _field("1"),
        "agree": _field("true"),
    }
    a = score_file(
        _truth("a.pdf", ["form", "blank"]),
        [_page(1, "form", "todoke", 1), _page(2, "blank")],
        [DocumentResult(source="a.pdf", pages=[1, 2], form="todoke", fields=a_fields)],
        TYPES,
    )
    # b.png: fed upside down, every field right and accepted: straight through.
    b = score_file(
        _truth("b.png", ["form"], [180]),
        [_page(1, "form", "todoke", 1, rotation=180)],
        [
            DocumentResult(
                source="b.png",
                pages=[1],
                form="todoke",
                fields={
                    n: _field(str(v).lower() if isinstance(v, bool) else v)
                    for n, v in TRUTH_FIELDS.items()
                },
            )
        ],
        TYPES,
    )
    # c.jpg: read as ANOTHER form (a silent misclassification): its fields are missing.
    c = score_file(
        _truth("c.jpg", ["form"]),
        [_page(1, "form", "menjo", 1)],
        [DocumentResult(source="c.jpg", pages=[1], form="menjo", fields={"x": _field("1")})],
        TYPES,
    )
    # d.tif: the form page left unknown, the blank back taken for a form page.
    d = score_file(
        _truth("d.tif", ["form", "blank"]),
        [_page(1, "unknown"), _page(2, "form", "todoke", 1)],
        [
            DocumentResult(source="d.tif", pages=[1], form=None, fields={}),
            DocumentResult(
                source="d.tif",
                pages=[2],
                form="todoke",
                fields={"my_number": _field("123456789018", "review", 0.1)},
            ),
        ],
        TYPES,
    )
    return [a, b, c, d]


def test_levenshtein_and_cer() -> None:
    assert levenshtein("", "") == 0
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("山田太郎", "山田大郎") == 1
    assert levenshtein("1234", "") == 4
    assert cer("1234567890", "1234567899") == pytest.approx(0.1)
    assert cer("ヤマダ", "ヤマダタロウ") == pytest.approx(1.0)
    assert cer("", "") == 0.0
    assert cer("", "x") == 1.0


def test_silent_error_is_accepted_and_wrong(scores: list[Any]) -> None:
    a = {f.name: f for f in scores[0].fields}
    assert a["bpn"].silent and not a["bpn"].right
    assert not a["name"].silent and not a["name"].right  # wrong, but a person sees it
    assert not a["birth_date"].silent and a["birth_date"].right
    assert a["agree"].right  # truth True == "true"
    stats = field_stats(scores[0].fields)
    assert stats["fields"] == 6
    assert stats["exact"] == 4
    assert stats["silent_errors"] == 1
    assert stats["silent_error_rate"] == pytest.approx(1 / 6, abs=1e-4)
    assert stats["accepted_error_rate"] == pytest.approx(1 / 4)
    assert stats["review_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert stats["wrong_caught_rate"] == pytest.approx(0.5)
    assert stats["review_right"] == 1  # birth_date: right, but a person checks it
    # 1 edit in bpn (10 chars), 1 in name (5 chars) over 12+10+5+10+1+4 truth chars
    assert stats["cer"] == pytest.approx(2 / 42, abs=1e-4)


def test_summary_over_the_tiny_corpus(scores: list[Any]) -> None:
    summary = summarise(scores)
    fields = summary.fields
    assert fields["fields"] == 24
    # a: 4 right; b: 6 right; c: none (missing); d: my_number only (in review)
    assert fields["exact"] == 11
    assert fields["accepted"] == 4 + 6
    assert fields["missing"] == 6 + 5
    assert fields["review"] == 2 + 1
    assert fields["silent_errors"] == 1
    assert fields["silent_error_rate"] == pytest.approx(1 / 24, abs=1e-4)
    assert fields["review_rate"] == pytest.approx((3 + 11) / 24, abs=1e-4)
    assert summary.by_type["bpn"]["silent_errors"] == 1
    assert summary.by_type["bpn"]["exact_rate"] == pytest.approx(0.25)
    assert summary.by_type["text"]["silent_errors"] == 0
    assert summary.by_type["text"]["cer"] == pytest.approx((1 + 0 + 5 + 5) / 20)
    assert summary.review_reasons == {"low_confidence": 3}
    assert summary.silent_errors == [
        {
            "source": "a.pdf",
            "field": "bpn",
            "type": "bpn",
            "truth": "1234567890",
            "value": "1234567899",
            "confidence": 0.9,
            "engine": "ppocr",
        }
    ]

    documents = summary.documents
    assert documents["documents"] == 4
    assert documents["straight_through"] == 2  # b (right) and c (wrong form, all accepted)
    assert documents["straight_through_rate"] == pytest.approx(0.5)
    assert documents["straight_through_right"] == 1
    assert documents["straight_through_wrong"] == 1
    assert documents["all_right"] == 1

    pages = summary.classification
    assert pages["pages"] == 6
    assert pages["right"] == 3  # a1, a2 (blank), b1
    assert pages["accuracy"] == pytest.approx(0.5)
    assert pages["wrong_form"] == 1  # c1
    assert pages["unknown"] == 1  # d1
    assert pages["blank_as_form"] == 1  # d2
    assert pages["form_as_blank"] == 0
    assert pages["silent_misclassified"] == 2
    assert pages["form_pages"] == 4
    assert pages["form_page_accuracy"] == pytest.approx(0.5)
    assert (pages["upside_down_pages"], pages["upside_down_read"]) == (1, 1)
    assert summary.tables["rows"] == 0 and summary.tables["row_exact_rate"] is None


def test_a_page_the_pipeline_lost_is_missing() -> None:
    score = score_file(_truth("e.pdf", ["form", "blank"]), [], [], TYPES)
    assert [p.verdict for p in score.pages] == ["missing", "missing"]
    assert all(f.status == "missing" and not f.silent for f in score.fields)
    assert not score.document.straight_through


def test_row_exact_match() -> None:
    truth = [{"bpn": "1234567890", "amount": "16980"}, {"bpn": "2234567890", "amount": "0"}]
    rows = [
        {"bpn": _field("1234567890"), "amount": _field("16980")},
        {"bpn": _field("2234567890"), "amount": _field("6")},
    ]
    outcome = row_exact_match(truth, rows)
    assert (outcome.rows, outcome.exact, outcome.predicted_rows) == (2, 1, 2)
    assert row_exact_match(truth, None).exact == 0
    summary = summarise(
        [
            score_file(
                {**_truth("f.pdf", ["form"]), "rows": truth},
                [_page(1, "form", "todoke", 1)],
                [DocumentResult(source="f.pdf", pages=[1], form="todoke", fields={}, rows=rows)],
                TYPES,
            )
        ]
    )
    assert summary.tables == {"documents": 1, "rows": 2, "row_exact": 1, "row_exact_rate": 0.5}


REPORT_KEYS = {
    "version",
    "date",
    "corpus_dir",
    "quick",
    "machine",
    "corpus",
    "routes",
    "runs",
    "by_effect",
    "by_handwriting",
    "reliability",
    "baseline",
    "overhead",
    "services",
    "seconds",
    "command",
}
RUN_KEYS = {
    "fields",
    "by_type",
    "documents",
    "classification",
    "tables",
    "silent_errors",
    "review_reasons",
    "timing",
    "errors",
}
FIELD_KEYS = {
    "fields",
    "exact",
    "exact_rate",
    "exact_ignoring_space_rate",
    "cer",
    "accepted",
    "review",
    "review_right",
    "missing",
    "silent_errors",
    "silent_error_rate",
    "accepted_error_rate",
    "review_rate",
    "wrong_caught_rate",
}


def test_quick_bench_run_end_to_end(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    corpus, out = tmp_path / "corpus", tmp_path / "report"
    for args in (
        ["generate", "--out", str(corpus), "--forms", "2", "--seed", "5", "--quick"],
        ["run", str(corpus), "--quick", "--out", str(out)],
    ):
        done = subprocess.run(
            [*KURA, "bench", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "overhead ratio" in done.stdout

    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert set(report) == REPORT_KEYS
    truths = [json.loads(p.read_text(encoding="utf-8")) for p in corpus.glob("*.truth.json")]
    pages = sum(len(t["pages"]) for t in truths)
    assert report["corpus"]["documents"] == 2 and report["corpus"]["pages"] == pages
    assert set(report["runs"]) == {"routed", "ppocr", "tesseract"}
    for name, run in report["runs"].items():
        assert set(run) == RUN_KEYS, name
        assert set(run["fields"]) == FIELD_KEYS
        assert run["errors"] == []
        for stats in (run["fields"], *run["by_type"].values()):
            for key in ("exact_rate", "silent_error_rate", "review_rate"):
                assert 0.0 <= stats[key] <= 1.0
            assert stats["cer"] >= 0.0
        assert run["classification"]["pages"] == run["timing"]["pages"]
        assert run["timing"]["pages_per_minute"] > 0
    routed = report["runs"]["routed"]
    for reason in routed["review_reasons"]:
        describe(reason)  # every reason has words for the verifier
    assert routed["fields"]["fields"] == sum(len(t["fields"]) for t in truths)
    assert routed["fields"]["exact_rate"] >= 0.5
    assert routed["classification"]["pages"] == pages
    assert routed["classification"]["accuracy"] >= 0.5
    assert report["runs"]["tesseract"]["timing"]["documents"] == 1  # limited in --quick
    assert set(routed["timing"]["stage_median_seconds"]) >= {"rasterise", "cleanup", "read"}
    assert report["baseline"]["pages"] == 1 and report["baseline"]["text_lines"] > 10
    assert report["overhead"]["ratio"] > 0
    assert report["services"] is None
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "Overhead ratio" in markdown and "| overall |" in markdown


def test_calibration_thresholds_sit_just_above_the_surest_wrong_reading() -> None:
    from kura.bench.calibrate import FLOOR, derive_thresholds
    from kura.bench.metrics import FieldOutcome, reliability

    def outcome(
        kind: str, truth: str, value: str, confidence: float, *reasons: str
    ) -> FieldOutcome:
        status = "review" if reasons else "accepted"
        return FieldOutcome("d", "f", kind, truth, value, status, confidence, "ppocr", reasons)

    fields = [
        outcome("bpn", "1234567890", "1234567890", 0.95),
        outcome("bpn", "1234567890", "1234567899", 0.684),  # wrong, only confidence decides
        outcome("bpn", "1234567890", "1234567890", 0.60, "low_confidence"),
        outcome("bpn", "1234567890", "1234567800", 0.99, "check_digit"),  # caught otherwise
        outcome("kana", "ヤマダ", "ヤマダ", 0.9),
    ]
    found = derive_thresholds(fields, {"bpn": 0.5, "kana": 0.5})
    assert found["bpn"]["threshold"] == 0.69 and found["bpn"]["wrong"] == 1
    assert found["bpn"]["right_sent_to_review"] == 1
    assert found["kana"]["threshold"] == FLOOR
    table = reliability(fields)
    assert sum(row["fields"] for row in table["bpn"]) == 4
    assert [row["accuracy"] for row in table["kana"]] == [1.0]
