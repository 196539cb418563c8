"""`kura bench station` measures the station through the web app (a small database here)."""

from __future__ import annotations

from pathlib import Path

from kura.bench.station import fill, keystrokes, measure
from schemas.settings import Settings


def test_the_station_numbers_are_measured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    fill(settings, 12, progress=lambda _: None)
    numbers = measure(settings, samples=5)
    assert numbers.documents == 12 and numbers.samples == 5
    assert 0 < numbers.open_median_ms <= numbers.open_p95_ms
    assert 0 < numbers.correct_median_ms <= numbers.correct_p95_ms
    # 100 forms: two fields retyped each (6 + 10 characters, and Enter), a 個人番号 keyed twice
    # in 20 of them, Enter on 'done'; the checker confirms the two changes of each form
    assert keystrokes() == (100 * (7 + 11 + 1) + 20 * 2 * 13, 200)
