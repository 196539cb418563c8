"""Every reason a field waits for a person has words a verifier can read."""

from __future__ import annotations

import pytest

from kura.bench.report import review_reason_groups
from schemas.reasons import REASONS, describe, reason_code


def test_reasons_with_details_are_described_by_their_code() -> None:
    assert reason_code("doubt:ツ/ッ") == "doubt"
    assert reason_code("length_9_of_10") == "length"
    assert reason_code("blank_page_2") == "blank_page"
    assert reason_code("not_aligned: 2 of 4 marks found") == "not_aligned"
    assert describe("doubt:ツ/ッ").endswith("(ツ/ッ)")
    assert describe("needed_by:notification_type").startswith("届出種別に必要な欄")
    assert describe("empty") == REASONS["empty"]
    with pytest.raises(KeyError):
        describe("something_new")


def test_the_benchmark_groups_reasons_by_code() -> None:
    grouped = review_reason_groups({"doubt:ツ/ッ": 2, "doubt:1/7": 1, "length_9_of_10": 1})
    assert grouped == {"doubt": 3, "length": 1}
