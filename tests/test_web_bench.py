"""`kura bench station` measures the station through the web app (a small database here), and
counts the keys Chromium sends to verify documents with the station's keyboard."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from kura.bench.station import BLIND_EVERY, MISREAD, REVIEW, VALUES, fill, measure
from schemas.settings import Settings


def _keys_a_person_needs(documents: int) -> tuple[int, int]:
    """From the readings planted by `fill`: a wrong reading is typed over and Enter, a right
    one is Enter; a flagged 個人番号 is typed and Enter by two people; the checker presses
    Enter once per change."""
    verifier = checker = 0
    for n in range(documents):
        for name in REVIEW:
            wrong = name != "name_kana" or n % 2 == 1
            verifier += (len(VALUES[name]) + 1) if wrong else 1
            checker += 1
        if n % BLIND_EVERY == 0:
            verifier += 2 * (len(VALUES["my_number"]) + 1)
    assert MISREAD["birth_date"] != VALUES["birth_date"]
    return verifier, checker


def test_the_station_numbers_are_measured(tmp_path: Path, browser: Browser) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    fill(settings, 12, progress=lambda _: None)
    numbers = measure(settings, samples=5, keystroke_documents=5, browser=browser)
    assert numbers.documents == 12 and numbers.samples == 5
    assert numbers.queue_median_ms > 0
    assert 0 < numbers.open_median_ms <= numbers.open_p95_ms
    assert 0 < numbers.correct_median_ms <= numbers.correct_p95_ms
    # 5 documents verified and confirmed in Chromium with the keyboard only, every key counted
    verifier, checker = _keys_a_person_needs(5)
    assert numbers.keystroke_documents == 5
    assert (numbers.verifier_keys_per_100, numbers.checker_keys_per_100) == (
        verifier * 20, checker * 20)
