"""A name's variant kanji (髙/高, 眞/真, 邉/邊, 﨑/崎) told apart by their own networks
(`pipeline.variants`), as an opinion: only a sure one spares a person the look."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kura.bench import train_variants
from kura.bench.mlp import train_mlp
from kura.bench.synth.handwriting import HandStyle, fill_form
from pipeline import variants
from pipeline.handwriting import handwriting
from pipeline.page import decide
from pipeline.rawfield import RawField
from pipeline.read import read_field
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
    gray = _name_page("髙橋\u3000眞理子", str(SETO), 1)
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.text.replace(" ", "") == "髙橋眞理子"
    assert set(raw.variants_seen) == {"髙", "眞"}
    decided = decide(NAME, raw)
    assert decided.status == "accepted", decided.reasons


def test_an_unsure_network_leaves_the_form_to_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    gray = _name_page("髙橋\u3000眞理子", str(SETO), 1)
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
    raw = RawField("高橋", 0.9, "plain")  # an engine that does not locate its characters
    assert variants.settle_variants(raw) is raw


def test_training_is_deterministic() -> None:
    fonts = {"Klee One Regular": train_variants.TRAINED_FONTS["Klee One Regular"]}
    x, y = train_variants.samples("高髙", fonts, 6, seed=0)
    again, labels = train_variants.samples("高髙", fonts, 6, seed=0)
    assert np.array_equal(x, again) and np.array_equal(y, labels)
    one, two = (train_mlp(x, y, 2, train_variants.SCHEDULE, seed=0) for _ in range(2))
    assert all(np.array_equal(one[k], two[k]) for k in one)


KLEE = "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf"
KLEE_BOLD = "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf"


@pytest.mark.parametrize(("name", "font", "seed"), [
    ("寺嶌\u3000太郎", KLEE, 0),  # read 寺嵩太郎 and accepted before issue 11
    ("山嵜\u3000太郎", KLEE_BOLD, 1),  # read 山嵩太郎 and accepted
    ("山嵜\u3000太郎", KLEE, 0),  # 嵜 dropped: read 山太郎 and accepted
    ("宮嵜\u3000太郎", KLEE, 2),  # 嵜 dropped: read 宮 太郎 and accepted
])
def test_a_rare_name_form_read_as_a_look_alike_is_never_accepted_wrong(
        name: str, font: str, seed: int) -> None:
    gray = _name_page(name, font, seed)
    raw = read_field(gray, gray, NAME, FORM.id)
    decided = decide(NAME, raw)
    right = raw.text.replace(" ", "") == name.replace("\u3000", "")
    assert right or decided.status == "review", (raw.text, decided.reasons)


def test_a_dropped_look_alike_is_a_character_missing() -> None:
    gray = _name_page("山嵜\u3000太郎", KLEE, 0)
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.text.replace(" ", "") == "山太郎"
    assert set(raw.nearly_written) & {"寄", "嵩"}
    assert "characters_missing" in decide(NAME, raw).reasons


def test_a_look_alike_the_network_is_unsure_of_goes_to_a_person(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gray = _name_page("寄本\u3000太郎", KLEE, 0)
    monkeypatch.setattr(variants, "family_probabilities",
                        lambda family, features: np.full((1, len(family)), 1 / len(family)))
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.text.startswith("寄本")
    assert "variant_kanji:寄" in decide(NAME, raw).reasons


def test_a_real_yori_in_a_name_is_read_and_accepted() -> None:
    """The network knows 寄 itself: 寄本 is not sent to a person, nor made 嵜本."""
    gray = _name_page("寄本\u3000太郎", KLEE, 0)
    raw = read_field(gray, gray, NAME, FORM.id)
    assert raw.text.replace(" ", "") == "寄本太郎"
    assert decide(NAME, raw).status == "accepted"


def test_a_yori_in_an_address_is_left_as_read() -> None:
    """寄居町: the look-alike networks read names only."""
    address = FORM.field("address")
    style = HandStyle(font=KLEE, ink="black", slant=0.05, weight=1, seal_rate=0.0,
                      overflow_rate=0.0)
    (page, *_) = fill_form(FORM, {"address": "埼玉県大里郡寄居町寄居1234"}, random.Random(0),
                           style)
    gray, _ = handwriting(np.asarray(page.convert("RGB")), FORM.id, address.page)
    raw = read_field(gray, gray, address, FORM.id)
    assert "寄居町" in raw.text
    assert raw.nearly_written == () and not [n for n in raw.notes if "variant" in n]


def test_the_generator_writes_rare_forms_without_moving_other_draws(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kura.bench.synth import people

    common_of = {rare: common for common, rare in people.RARER_FORMS.items()}
    rng = random.Random(5)
    with_rare = [people.random_person(rng) for _ in range(3000)]
    monkeypatch.setattr(people, "RARER_FORMS", {})
    rng = random.Random(5)
    without = [people.random_person(rng) for _ in range(3000)]
    changed = [(a, b) for a, b in zip(with_rare, without, strict=True) if a != b]
    assert {a.family for a, _ in changed} == {"山嵜", "宮嵜", "中嶌"}
    assert len(changed) < 0.03 * len(with_rare)  # a small share
    assert all(common_of[a.family] == b.family and a.given == b.given for a, b in changed)
