"""A name's variant kanji (髙/高, 眞/真, 邉/邊, 﨑/崎) told apart by their own networks
(`pipeline.variants`), as an opinion: only a sure one spares a person the look."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kura.bench import train_variants
from kura.bench.synth.handwriting import HandStyle, fill_form
from pipeline import variants
from pipeline.handwriting import handwriting
from pipeline.ocr import Reading
from pipeline.page import decide
from pipeline.rawfield import RawField
from pipeline.read import read_field
from pipeline.routes import alphabet_for
from schemas.calibration import calibration
from schemas.forms import get_form

FORM = get_form("kokunen_hihokensha_todoke")
NAME = FORM.field("name")
SETO = train_variants.HELD_FONTS["Seto"]


def test_the_networks_ship_for_every_family_the_calibration_names() -> None:
    families = calibration().variant_classifier.families
    assert {"真眞", "高髙", "邊邉", "崎﨑"} <= set(families)
    features = np.zeros((1, variants.SIDE**2), np.float32)
    for family in families:
        probabilities = variants.family_probabilities(family, features)
        assert probabilities.shape == (1, len(family))
    assert variants.MODEL.stat().st_size < 2 * 1024 * 1024


def test_the_held_out_handwriting_font_is_read_as_drawn() -> None:
    """Seto, a face the benchmark writes names with, is kept out of training."""
    assert SETO not in train_variants.TRAINED_FONTS.values()
    rng = random.Random(7)
    for family in ("真眞", "高髙", "邊邉", "崎﨑"):
        glyphs = [(label, train_variants.draw_glyph(ch, SETO, rng))
                  for label, ch in enumerate(family) for _ in range(12)]
        features = np.stack([variants.glyph_features(g) for _, g in glyphs])  # type: ignore[misc]
        read = variants.family_probabilities(family, features).argmax(axis=1)
        assert (read == [label for label, _ in glyphs]).mean() >= 0.8, family


def _name_page(name: str, font: str, seed: int) -> np.ndarray:
    style = HandStyle(font=font, ink="black", slant=0.05, weight=1, seal_rate=0.0,
                      overflow_rate=0.0)
    (page, *_) = fill_form(FORM, {"name": name}, random.Random(seed), style)
    gray, _ = handwriting(np.asarray(page.convert("RGB")), FORM.id, NAME.page)
    return gray


def test_a_variant_form_the_recogniser_reads_as_another_is_read_as_written() -> None:
    """Written in the held-out font: PP-OCR alone reads 高橋 真理子 (or 眞) here."""
    gray = _name_page("髙橋\u3000眞理子", str(SETO[0]), 1)
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.text.replace(" ", "") == "髙橋眞理子"
    assert set(raw.variants_seen) == {"髙", "眞"}
    decided = decide(NAME, raw)
    assert decided.status == "accepted", decided.reasons


def test_an_unsure_network_leaves_the_form_to_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    gray = _name_page("髙橋\u3000眞理子", str(SETO[0]), 1)
    monkeypatch.setattr(variants, "family_probabilities",
                        lambda family, features: np.full((1, len(family)), 1 / len(family)))
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.variants_seen == ()
    assert "variant_kanji" in " ".join(decide(NAME, raw).reasons)


def test_only_the_forms_the_network_was_sure_of_leave_review() -> None:
    both = RawField("髙橋 眞理子", 0.9, "ppocr", runners_up=(("髙", "高", 0.3),))
    assert decide(NAME, both).reasons == ["variant_kanji:髙", "variant_kanji:眞", "doubt:髙/高"]
    one = RawField("髙橋 眞理子", 0.9, "ppocr", variants_seen=("髙",))
    assert decide(NAME, one).reasons == ["variant_kanji:眞"]


def test_nothing_changes_where_the_engine_gives_no_character_places() -> None:
    class Plain:
        name = "plain"

        def read_line(self, image: np.ndarray, alphabet: str | None = None) -> Reading:
            return Reading("高橋", 0.9, self.name)

    raw = RawField("高橋", 0.9, "plain")
    gray = _name_page("髙橋", "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf", 3)
    assert variants.settle_variants(gray, NAME, Plain(), alphabet_for(NAME), raw) is raw


def test_training_is_deterministic() -> None:
    fonts = {"Klee One Regular": train_variants.TRAINED_FONTS["Klee One Regular"]}
    x, y = train_variants.samples("高髙", fonts, 6, seed=0)
    again, labels = train_variants.samples("高髙", fonts, 6, seed=0)
    assert np.array_equal(x, again) and np.array_equal(y, labels)
    one, two = (train_variants._train(x, y, 2, seed=0) for _ in range(2))
    assert all(np.array_equal(one[k], two[k]) for k in one)
