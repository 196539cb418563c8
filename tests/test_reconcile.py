"""突合: list rows matched to register entries, confirmed by name kana and birth date,
never by one attribute alone; every outcome planted and found where it belongs."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time

from pipeline.reconcile import ListRow, RegisterEntry, reconcile

OFFICE = "041009"
TODAY = dt.date(2025, 9, 1)


def digest(text: str) -> str:
    """Stands in for the blind index (an HMAC under the index key, computed by the caller)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def entry(n: int, *, received: dt.date = dt.date(2025, 7, 1), kind: str = "資格取得",
          forwarded: dt.date | None = dt.date(2025, 7, 5), name: str | None = None,
          birth: str | None = None, office: str = OFFICE) -> RegisterEntry:
    return RegisterEntry(
        entry_id=f"R{n}", municipality_code=office, basic_pension_number=f"{1000000000 + n}",
        notification_type=kind, received_date=received,
        name_kana_digest=digest(name or f"ヤマダ{n}"), birth_date_digest=digest(birth or f"b{n}"),
        forwarded_date=forwarded)


def row(index: int, n: int, *, received: dt.date | None = dt.date(2025, 7, 8),
        kind: str = "資格取得", name: str | None = None, birth: str | None = None,
        office: str = OFFICE) -> ListRow:
    return ListRow(
        row_index=index, basic_pension_number=f"{1000000000 + n}", notification_type=kind,
        received_date=received, name_kana_digest=digest(name or f"ヤマダ{n}"),
        birth_date_digest=digest(birth or f"b{n}"), municipality_code=office, result="承認")


def test_every_outcome_lands_where_it_belongs() -> None:
    entries = [
        entry(1),                                   # matched
        entry(2),                                   # name differs → to a person
        entry(3),                                   # name and birth differ → not ours
        entry(4, forwarded=dt.date(2025, 6, 1)),    # no result after 60 days → overdue
        entry(5, forwarded=dt.date(2025, 8, 1)),    # no result, but only 31 days
        entry(6), entry(6 + 1000, name="ヤマダ6", birth="b6"),  # same person twice: ambiguous
        entry(7, kind="免除申請"),                    # other 届書区分: no candidate
        entry(8, received=dt.date(2025, 3, 1)),     # outside the date window
    ]
    # entry 6+1000 has another BPN; make it the same person under the same BPN
    entries[6] = RegisterEntry(**{**entries[6].__dict__, "basic_pension_number": "1000000006"})
    rows = [
        row(0, 1),
        row(1, 2, name="ヤマダ別人"),
        row(2, 3, name="タナカ", birth="b999"),
        row(3, 6),
        row(4, 7, kind="資格取得"),
        row(5, 8),
        row(6, 9, office="131164"),
        row(7, 42),                                 # filed directly at 日本年金機構
    ]
    result = reconcile(rows, entries, municipality_code=OFFICE, today=TODAY)
    outcomes = [(m.outcome, m.entry_id) for m in result.rows]
    assert outcomes == [
        ("matched", "R1"),
        ("matched_with_differences", "R2"),
        ("result_without_entry", None),
        ("ambiguous", None),
        ("result_without_entry", None),
        ("result_without_entry", None),
        ("other_municipality", None),
        ("result_without_entry", None),
    ]
    assert result.rows[1].differences == ("name_kana",)
    assert result.rows[2].candidates == ("R3",)  # shown to the person: same BPN, not confirmed
    assert set(result.rows[3].candidates) == {"R6", "R1006"}
    assert result.overdue == ["R4"]  # forwarded 92 days ago; the others 58 and 31 days
    sooner = reconcile(rows, entries, municipality_code=OFFICE, today=TODAY, overdue_days=50)
    assert set(sooner.overdue) == {"R3", "R4", "R6", "R7", "R8", "R1006"}


def test_one_attribute_alone_never_matches() -> None:
    """The 基礎年金番号 alone (with the kind and date) is not a match: the name kana or the
    birth date must agree too."""
    result = reconcile([row(0, 1, name="ベツジン", birth="b0")], [entry(1)],
                       municipality_code=OFFICE, today=TODAY)
    assert result.rows[0].outcome == "result_without_entry"
    assert result.rows[0].entry_id is None


def test_an_entry_without_name_kana_or_birth_date_goes_to_a_person() -> None:
    """A forward-only claim nobody keyed a name kana or birth date for: its 基礎年金番号,
    届書区分 and date fit the row, but that is one attribute — not a match, and not a result
    for something never received either (confirming it would open a 日本年金機構 entry)."""
    bare = RegisterEntry(**{**entry(1).__dict__, "name_kana_digest": "",
                            "birth_date_digest": ""})
    result = reconcile([row(0, 1)], [bare], municipality_code=OFFICE, today=TODAY)
    (found,) = result.rows
    assert (found.outcome, found.entry_id) == ("unconfirmed", None)
    assert found.candidates == ("R1",)
    assert found.differences == ("name_kana", "birth_date")


def test_values_missing_on_both_sides_never_agree() -> None:
    """The register lacks the name kana, the list's birth-date cell is empty: nothing to
    compare, so nothing confirms (two missing values are not two equal ones)."""
    half = RegisterEntry(**{**entry(1).__dict__, "name_kana_digest": ""})
    empty_cell = ListRow(**{**row(0, 1).__dict__, "name_kana_digest": "",
                            "birth_date_digest": ""})
    result = reconcile([empty_cell], [half], municipality_code=OFFICE, today=TODAY)
    assert result.rows[0].outcome == "unconfirmed"


def test_one_confirming_attribute_with_the_other_missing_goes_to_a_person() -> None:
    """基礎年金番号 and birth date agree, the register holds no name kana: two attributes,
    shown to a person with the missing one named."""
    keyed_birth_only = RegisterEntry(**{**entry(1).__dict__, "name_kana_digest": ""})
    result = reconcile([row(0, 1)], [keyed_birth_only], municipality_code=OFFICE, today=TODAY)
    (found,) = result.rows
    assert (found.outcome, found.entry_id) == ("matched_with_differences", "R1")
    assert found.differences == ("name_kana",)


def test_a_contradicting_attribute_is_not_unconfirmed() -> None:
    """The name kana is missing but the birth dates differ: evidence against, so the row is
    a result without an entry (shown with its candidate), not one waiting to be confirmed."""
    half = RegisterEntry(**{**entry(1).__dict__, "name_kana_digest": ""})
    result = reconcile([row(0, 1, birth="b-other")], [half], municipality_code=OFFICE,
                       today=TODAY)
    assert (result.rows[0].outcome, result.rows[0].candidates) == (
        "result_without_entry", ("R1",))


def test_a_stronger_row_takes_the_entry_before_a_weaker_one() -> None:
    rows = [row(0, 1, birth="b-other"), row(1, 1)]
    result = reconcile(rows, [entry(1)], municipality_code=OFFICE, today=TODAY)
    assert [(m.outcome, m.entry_id) for m in result.rows] == [
        ("result_without_entry", None), ("matched", "R1")]


def test_entries_of_another_office_are_not_candidates() -> None:
    result = reconcile([row(0, 1)], [entry(1, office="131164")], municipality_code=OFFICE,
                       today=TODAY)
    assert result.rows[0].outcome == "result_without_entry"


def test_two_thousand_rows_reconcile_in_well_under_a_second() -> None:
    rng = random.Random(5)
    entries = [entry(n, received=dt.date(2025, 6, 1) + dt.timedelta(days=rng.randint(0, 40)))
               for n in range(2400)]
    rows = [row(i, n, received=e.received_date + dt.timedelta(days=rng.randint(0, 20)))
            for i, (n, e) in enumerate(zip(range(2000), entries, strict=False))]
    started = time.perf_counter()
    result = reconcile(rows, entries, municipality_code=OFFICE, today=dt.date(2025, 10, 1))
    seconds = time.perf_counter() - started
    assert result.count("matched") == 2000
    assert len(result.overdue) == 400
    assert seconds < 1.0


def test_the_benchmark_finds_every_planted_outcome() -> None:
    from kura.bench.lists import time_reconciliation

    report = time_reconciliation(300, seed=1)
    assert report["found"] == report["planted"]
    assert report["overdue"] > 0
