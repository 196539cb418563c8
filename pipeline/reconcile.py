"""突合: match the rows of a 処理結果一覧表 to the entries of the register (受付処理簿).

Pure matching over plain data (DOMAIN.md §5.4, controls 29–30): the caller hands in the
register's open entries and the list's rows, each with the blind-index digests of the
person's name kana and birth date (computed with the index key, which never comes here).

A row and an entry are candidates when they name the same 基礎年金番号 and 届書区分 and the
list's 受付年月日 falls within a window after the office received the item. A candidate is
*confirmed* by the name kana and the birth date — never by one attribute alone:

* both agree → `matched`;
* one of them differs (or one side lacks it) → `matched_with_differences`, for a person to
  look at both sides;
* neither can be compared, because one side lacks it (a forward-only claim whose name kana
  and birth date nobody keyed, an empty cell on the list) → `unconfirmed`: the 基礎年金番号
  alone agrees, which is one attribute, so it goes to a person with what was missing;
* neither agrees, or no candidate → `result_without_entry` (filed directly at 日本年金機構, or
  a row that is not ours: a person decides, and the register flags it);
* two candidates equally good → `ambiguous`, for a person;
* a row of another municipality → `other_municipality`, an error to escalate (lists are
  printed per municipality, §3.6);
* register entries forwarded more than `overdue_days` ago and still without a result →
  `overdue`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

OVERDUE_DAYS = 60
WINDOW_BEFORE_DAYS = 3
"""The list's 受付年月日 may precede the office's own by a few days (dated on the form)."""
WINDOW_AFTER_DAYS = 60
"""…and follows it by the time the item took to reach 日本年金機構 at most."""

Outcome = Literal[
    "matched", "matched_with_differences", "unconfirmed", "result_without_entry", "ambiguous",
    "other_municipality",
]
CONFIRMING = ("name_kana", "birth_date")
"""The attributes that confirm a candidate; a digest '' means that side does not hold it."""


@dataclass(frozen=True)
class RegisterEntry:
    """One item of the register that waits for its result."""

    entry_id: str
    municipality_code: str
    basic_pension_number: str
    notification_type: str
    """The 届書区分 as the lists print it (the caller maps its form types to these)."""
    received_date: dt.date
    name_kana_digest: str
    birth_date_digest: str
    forwarded_date: dt.date | None = None
    """When it went to 日本年金機構 (進達); None while it has not."""


@dataclass(frozen=True)
class ListRow:
    """One row of a list, canonical values, with the digests the caller computed."""

    row_index: int
    """Printed order in the list, 0-based."""
    basic_pension_number: str
    notification_type: str
    received_date: dt.date | None
    name_kana_digest: str
    birth_date_digest: str
    municipality_code: str
    """The list's municipality (its header), or the row's own where a list prints one."""
    result: str = ""


@dataclass(frozen=True)
class RowMatch:
    row_index: int
    outcome: Outcome
    entry_id: str | None = None
    differences: tuple[str, ...] = ()
    """Attributes that differ between the two sides, or (unconfirmed) that one side lacks:
    name_kana, birth_date. (The list's 受付年月日 is 日本年金機構's and may differ from the
    office's; the window allows for it.)"""
    candidates: tuple[str, ...] = ()
    """Entries that were considered (for ambiguous and unconfirmed rows)."""


@dataclass
class Reconciliation:
    rows: list[RowMatch] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    """Entries forwarded more than `overdue_days` ago, still without a result."""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


def _within_window(entry: RegisterEntry, row: ListRow) -> bool:
    if row.received_date is None:
        return True
    days = (row.received_date - entry.received_date).days
    return -WINDOW_BEFORE_DAYS <= days <= WINDOW_AFTER_DAYS


def _digests(entry: RegisterEntry, row: ListRow, name: str) -> tuple[str, str]:
    return getattr(entry, f"{name}_digest"), getattr(row, f"{name}_digest")


def _agrees(entry: RegisterEntry, row: ListRow, name: str) -> bool:
    """Both sides hold the attribute and it is the same (a missing one never agrees)."""
    mine, theirs = _digests(entry, row, name)
    return bool(mine) and mine == theirs


def _differences(entry: RegisterEntry, row: ListRow) -> tuple[str, ...]:
    return tuple(name for name in CONFIRMING if not _agrees(entry, row, name))


def _lacking(entry: RegisterEntry, row: ListRow) -> tuple[str, ...]:
    """Attributes one side does not hold, so they cannot confirm anything."""
    return tuple(name for name in CONFIRMING if not all(_digests(entry, row, name)))


def _confirmations(entry: RegisterEntry, row: ListRow) -> int:
    return sum(_agrees(entry, row, name) for name in CONFIRMING)


def reconcile(
    rows: list[ListRow],
    entries: list[RegisterEntry],
    *,
    municipality_code: str,
    today: dt.date,
    overdue_days: int = OVERDUE_DAYS,
) -> Reconciliation:
    """Every row's outcome, in printed order, and the entries overdue for a result.

    An entry takes one row at most; rows are matched best first (both attributes agree,
    then one), so a weaker row never takes the entry of a stronger one."""
    pool: dict[tuple[str, str], list[RegisterEntry]] = defaultdict(list)
    for entry in entries:
        if entry.municipality_code == municipality_code and entry.basic_pension_number:
            pool[(entry.basic_pension_number, entry.notification_type)].append(entry)

    decided: dict[int, RowMatch] = {}
    taken: set[str] = set()
    ours = []
    for row in rows:
        if row.municipality_code != municipality_code:
            decided[row.row_index] = RowMatch(row.row_index, "other_municipality")
        else:
            ours.append(row)
    for needed in (2, 1):
        for row in ours:
            if row.row_index in decided:
                continue
            candidates = [
                e for e in pool.get((row.basic_pension_number, row.notification_type), [])
                if e.entry_id not in taken and _within_window(e, row)
            ]
            confirmed = [e for e in candidates if _confirmations(e, row) >= needed]
            if not confirmed:
                continue
            best = max(_confirmations(e, row) for e in confirmed)
            top = [e for e in confirmed if _confirmations(e, row) == best]
            if len(top) > 1:
                decided[row.row_index] = RowMatch(
                    row.row_index, "ambiguous", candidates=tuple(e.entry_id for e in top))
                continue
            entry = top[0]
            taken.add(entry.entry_id)
            differences = _differences(entry, row)
            outcome: Outcome = "matched" if best == 2 else "matched_with_differences"
            decided[row.row_index] = RowMatch(row.row_index, outcome, entry.entry_id,
                                              differences)
    for row in ours:
        if row.row_index in decided:
            continue
        near = pool.get((row.basic_pension_number, row.notification_type), [])
        # the 基礎年金番号 agrees and nothing contradicts it, but nothing confirms it either:
        # one attribute alone is never a match (control 30), nor a result never received
        open_ = [e for e in near if e.entry_id not in taken and _within_window(e, row)
                 and _lacking(e, row) == CONFIRMING]
        if open_:
            decided[row.row_index] = RowMatch(
                row.row_index, "unconfirmed", candidates=tuple(e.entry_id for e in open_),
                differences=CONFIRMING)
            continue
        decided[row.row_index] = RowMatch(
            row.row_index, "result_without_entry", candidates=tuple(e.entry_id for e in near))
    overdue = [
        e.entry_id for e in entries
        if e.entry_id not in taken and e.forwarded_date is not None
        and (today - e.forwarded_date).days > overdue_days
    ]
    return Reconciliation([decided[r.row_index] for r in rows], overdue)
