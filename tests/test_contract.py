"""The extraction contract other tools rely on (issue 3): `kura forms list --json`,
`kura forms blank`, `kura extract --json` — their exact shapes and canonical values."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kura.bench.servers import KURA, kura_env
from kura.bench.synth.corpus import generate_corpus

FIELD_TYPES = {
    "digits",
    "my_number",
    "bpn",
    "kana",
    "text",
    "date",
    "postal",
    "phone",
    "choice",
    "checkbox",
    "amount",
}
FORM_KEYS = {"id", "title", "short_title", "kind", "pages", "dpi", "size_px", "fields",
             "columns", "header"}
FIELD_KEYS = {"name", "label", "type", "page", "box", "cells", "options"}
OPTION_KEYS = {"value", "label", "box"}
COLUMN_KEYS = {"name", "header", "type"}
COLUMN_TYPES = {"digits", "bpn", "kana", "date", "period", "text"}
HEADER_KEYS = {"name", "label", "type"}
DOCUMENT_KEYS = {"source", "pages", "form", "fields", "rows"}
VALUE_KEYS = {"value", "raw", "confidence", "status", "reasons"}
KATAKANA = re.compile(r"[ァ-ヺー]+")
A4_300_DPI = (2480, 3508)


def kura(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KURA, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No service configured: no database, broker or S3 (and the tests need no network)."""
    return kura_env(data_dir=str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def forms(env: dict[str, str]) -> list[dict[str, Any]]:
    done = kura(env, "forms", "list", "--json")
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout)
    return listed


def _is_box(box: object, size: tuple[int, int]) -> bool:
    if not (isinstance(box, list) and len(box) == 4 and all(type(v) is int for v in box)):
        return False
    x, y, w, h = box
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= size[0] and y + h <= size[1]


def test_forms_list_json_shape(forms: list[dict[str, Any]]) -> None:
    assert forms, "no form definitions"
    assert len({f["id"] for f in forms}) == len(forms)
    for form in forms:
        assert set(form) == FORM_KEYS, form["id"]
        assert isinstance(form["id"], str) and form["id"]
        assert isinstance(form["title"], str) and form["title"]
        assert form["kind"] in ("form", "table")
        assert type(form["pages"]) is int and form["pages"] >= 1
        assert form["dpi"] == 300
        size = form["size_px"]
        assert isinstance(size, list) and len(size) == 2 and all(type(v) is int for v in size)
        assert isinstance(form["fields"], list)
        names = [f["name"] for f in form["fields"]]
        assert len(set(names)) == len(names), form["id"]
        for field in form["fields"]:
            where = f"{form['id']}.{field['name']}"
            assert set(field) == FIELD_KEYS, where
            assert isinstance(field["name"], str) and field["name"]
            assert isinstance(field["label"], str) and field["label"]
            assert field["type"] in FIELD_TYPES, where
            assert type(field["page"]) is int and 1 <= field["page"] <= form["pages"]
            assert _is_box(field["box"], tuple(size)), where
            assert field["cells"] is None or (type(field["cells"]) is int and field["cells"] > 0)
            if field["type"] == "choice":
                assert isinstance(field["options"], list) and field["options"], where
            if field["options"] is None:
                continue
            assert isinstance(field["options"], list)
            for option in field["options"]:
                assert set(option) == OPTION_KEYS, where
                assert isinstance(option["value"], str) and option["value"]
                assert isinstance(option["label"], str)
                assert _is_box(option["box"], tuple(size)), where
        if form["kind"] == "table":
            assert isinstance(form["columns"], list) and form["columns"]
        if form["columns"] is not None:
            for column in form["columns"]:
                assert set(column) == COLUMN_KEYS
                assert column["type"] in COLUMN_TYPES
        if form["header"] is not None:
            assert form["kind"] == "table"
            assert all(set(h) == HEADER_KEYS for h in form["header"])


def test_forms_blank_writes_a_300_dpi_page(
    env: dict[str, str], forms: list[dict[str, Any]], tmp_path: Path
) -> None:
    for form in forms:
        if form["kind"] == "table":
            continue  # a printed list has no blank to fill in (test_tables)
        several = form["pages"] > 1
        out = tmp_path / f"{form['id']}.{'pdf' if several else 'png'}"
        done = kura(env, "forms", "blank", form["id"], "--out", str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        if several:
            assert out.read_bytes().startswith(b"%PDF")
            continue
        assert out.read_bytes().startswith(b"\x89PNG")
        with Image.open(out) as image:
            assert image.size == tuple(form["size_px"]) == A4_300_DPI
            assert tuple(round(float(d)) for d in image.info["dpi"]) == (300, 300)


def test_forms_blank_unknown_form_fails(env: dict[str, str], tmp_path: Path) -> None:
    done = kura(env, "forms", "blank", "no_such_form", "--out", str(tmp_path / "x.png"))
    assert done.returncode != 0
    assert not (tmp_path / "x.png").exists()


def _check_value(kind: str, value: str, accepted: bool, options: list[str]) -> None:
    """The canonical value of one field type; a field sent to review may hold a partial
    reading, but never characters its type cannot have."""
    if value == "":
        return
    if kind in ("digits", "amount", "phone", "my_number", "bpn", "postal"):
        assert value.isascii() and value.isdigit(), (kind, value)
        length = {"my_number": 12, "bpn": 10, "postal": 7}.get(kind)
        if accepted and length:
            assert len(value) == length, (kind, value)
    elif kind == "date":
        assert dt.date.fromisoformat(value).isoformat() == value, value
    elif kind == "kana":
        if accepted:
            assert KATAKANA.fullmatch(value), value
    elif kind == "choice":
        if accepted:
            assert value in options, (value, options)
        else:
            assert set(value.split(",")) <= set(options), (value, options)
    elif kind == "checkbox":
        assert value in ("true", "false"), value
    else:
        assert kind == "text"


def test_extract_json_contract(
    env: dict[str, str], forms: list[dict[str, Any]], tmp_path: Path
) -> None:
    # The corpus's first documents: a PDF with a blank back page, an upside-down TIFF,
    # a PNG and a JPEG.
    scans = generate_corpus(tmp_path / "scans", 4, seed=11, quick=True)
    done = kura(env, "extract", *map(str, scans), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    output = json.loads(done.stdout)
    assert set(output) == {"documents"}
    documents = output["documents"]
    assert {d["source"] for d in documents} == {str(s) for s in scans}
    by_id = {f["id"]: f for f in forms}
    for document in documents:
        assert set(document) >= DOCUMENT_KEYS, document.keys()
        assert isinstance(document["pages"], list)
        assert all(type(n) is int and n >= 1 for n in document["pages"])
        assert document["rows"] is None or isinstance(document["rows"], list)
        assert document["form"] is None or document["form"] in by_id
        assert isinstance(document["fields"], dict)
        if document["form"] is None:
            continue
        definition = {f["name"]: f for f in by_id[document["form"]]["fields"]}
        assert set(document["fields"]) <= set(definition)
        for name, field in document["fields"].items():
            assert set(field) == VALUE_KEYS, name
            assert isinstance(field["value"], str) and isinstance(field["raw"], str)
            assert isinstance(field["confidence"], int | float)
            assert 0.0 <= field["confidence"] <= 1.0
            assert field["status"] in ("accepted", "review")
            assert isinstance(field["reasons"], list)
            assert all(isinstance(r, str) and r for r in field["reasons"])
            if field["status"] == "review":
                assert field["reasons"], f"{name} is sent to review without a reason"
            options = [o["value"] for o in definition[name]["options"] or []]
            _check_value(
                definition[name]["type"], field["value"], field["status"] == "accepted", options
            )
    # The PDF's two pages (form + blank back) are one document; the TIFF read upright.
    truths = [json.loads(s.with_name(s.stem + ".truth.json").read_text("utf-8")) for s in scans]
    first = [d for d in documents if d["source"] == str(scans[0])]
    assert [d["pages"] for d in first] == [[1, 2]]
    truth_form = {str(s): t["form"] for s, t in zip(scans, truths, strict=True)}
    recognised = [d for d in documents if d["form"] is not None]
    assert len(recognised) >= 3
    assert all(d["form"] == truth_form[d["source"]] for d in recognised)


def test_extract_keeps_going_past_a_bad_file(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "not_a_scan.png"
    bad.write_bytes(b"this is not an image")
    done = kura(env, "extract", str(bad), "--json")
    assert done.returncode == 0, done.stderr
    [document] = json.loads(done.stdout)["documents"]
    assert document["source"] == str(bad)
    assert document["form"] is None and document["fields"] == {} and document["pages"] == []


def test_extract_fails_only_when_it_cannot_run(env: dict[str, str], tmp_path: Path) -> None:
    done = kura(env, "extract", str(tmp_path / "missing.pdf"), "--json")
    assert done.returncode != 0
    empty = tmp_path / "empty"
    empty.mkdir()
    done = kura(env, "extract", str(empty), "--json")
    assert done.returncode == 0  # nothing to read is not a failure
    assert json.loads(done.stdout) == {"documents": []}
