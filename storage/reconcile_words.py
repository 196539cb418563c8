"""The 突合 report (the typed result storage/usecases/reconciliation.py gives) and its
words: what each outcome and state is called, the lines that sum it
up, the report's columns and rows, what an unconfirmed row lacks and the way forward, the
report as CSV for Excel, and why a list cannot be reconciled. The command line
(`kura totsugo`), the register room (web/rooms/register.py) and the printed report
(workers/register.py) say it the same way."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from schemas.i18n import N_, _


@dataclass(frozen=True)
class RowLine:
    number: int
    """1-based, in printed order."""
    page: int
    box: list[int] | None
    outcome: str
    receipt_number: str
    """The register entry it settles ('' when none)."""
    differences: list[str]
    candidates: list[str]
    list_side: dict[str, str]
    """基礎年金番号, name kana, birth date, 届書区分, 処理結果 as printed."""
    register_side: dict[str, str]
    """Name kana and birth date as the register holds them (rows with differences only)."""
    unsure: list[str]
    accepted: bool
    list_lacks: list[str] = field(default_factory=list)
    """Unconfirmed rows: the confirming attributes (name_kana, birth_date) the list does
    not print for this row."""
    register_lacks: dict[str, list[str]] = field(default_factory=dict)
    """Unconfirmed rows: 受付番号 of each candidate → the confirming attributes the register
    holds for it neither from its form nor keyed at the counter (as it stands now: keyed
    since the run, the list is reconciled again)."""


@dataclass(frozen=True)
class Report:
    list_receipt: str
    municipality_code: str
    header: dict[str, str]
    status: str
    counts: dict[str, int]
    rows: list[RowLine]
    overdue: list[str]
    run_by: str
    confirmed_by: str | None
    seconds: float
    problems: list[str] = field(default_factory=list)


OUTCOMES = {
    "matched": N_("matched"),
    "matched_with_differences": N_("matched with differences"),
    "unconfirmed": N_("not confirmed: only the 基礎年金番号 agrees, the register or the list "
                      "holds no name kana or birth date to compare"),
    "result_without_entry": N_("result for something never received"),
    "ambiguous": N_("more than one register entry fits"),
    "other_municipality": N_("another municipality's row"),
    "unreadable": N_("row unreadable (基礎年金番号 or 届書区分)"),
}

STATUSES = {
    "not_reconciled": N_("not reconciled"),
    "reconciled": N_("reconciled, waiting for confirmation"),
    "confirmed": N_("confirmed"),
}

REPORT_COLUMNS = (
    (N_("No"), 8.0), (N_("Page"), 8.0), (N_("Outcome"), 40.0), (N_("Receipt number"), 26.0),
    (N_("Basic pension number"), 22.0), (N_("Name (kana)"), 30.0), (N_("Birth date"), 20.0),
    (N_("Notification type"), 20.0), (N_("Result"), 14.0),
)
"""Each column's id and its width on the PDF (mm)."""


def outcome_word(outcome: str) -> str:
    return _(OUTCOMES[outcome]) if outcome in OUTCOMES else outcome


def report_summary(report: Report) -> list[str]:
    """The lines above the report's rows: the list, who ran and confirmed it, each outcome's
    count and what was forwarded and never came back."""
    lines = [_("List {receipt} (市区町村コード {code}), status {status}; run by {run}, "
               "confirmed by {confirmed}").format(
        receipt=report.list_receipt, code=report.municipality_code,
        status=_(STATUSES[report.status]) if report.status in STATUSES else report.status,
        run=report.run_by, confirmed=report.confirmed_by or "-")]
    lines += [f"{outcome_word(outcome)}: {count}" for outcome, count in report.counts.items()]
    lines.append(_("Forwarded without a result: {count} {receipts}").format(
        count=len(report.overdue), receipts=" ".join(report.overdue)))
    return lines


def report_titles() -> list[str]:
    return [_(name) for name, _width in REPORT_COLUMNS]


def report_rows(report: Report) -> list[list[str]]:
    """One row per list row, in printed order; where the register differs, both sides as
    "list / register"."""
    rows = []
    for line in report.rows:
        side = line.list_side
        kana, birth = side.get("name_kana", ""), side.get("birth_date", "")
        differs = line.outcome == "matched_with_differences"  # unconfirmed: lacks, says NEEDS
        if differs and "name_kana" in line.differences:
            kana = f"{kana} / {line.register_side.get('name_kana', '')}"
        if differs and "birth_date" in line.differences:
            birth = f"{birth} / {line.register_side.get('birth_date', '')}"
        outcome = outcome_word(line.outcome)
        if line.accepted:
            outcome += " " + _("(accepted)")
        rows.append([str(line.number), str(line.page), outcome,
                     line.receipt_number or ", ".join(line.candidates),
                     side.get("basic_pension_number", ""), kana, birth,
                     side.get("notification_type", ""), side.get("result", "")])
    return rows


NEEDS = N_("Needs a person")
"""The CSV's last column: what a row a person must look at needs (`needs`)."""


def _named(names: list[str]) -> str:
    words = {"name_kana": _("Name (kana)"), "birth_date": _("Birth date")}
    return " / ".join(words.get(name, name) for name in names)


def needs(line: RowLine, status: str) -> str:
    """What a row a person must look at needs: an unconfirmed row, what it lacks on the
    list's side and on the register's for each candidate and what a person can do about it
    as the use cases allow (a list not yet confirmed can be reconciled again, a confirmed
    one cannot); an unreadable row or another municipality's, why and where to; '' for the
    rest."""
    if line.outcome == "unreadable":
        return _unreadable(line)
    if line.outcome == "other_municipality":
        return _("A row of another municipality's list: lists are per municipality, so the "
                 "list goes back to 日本年金機構 (escalate it); nothing of it is recorded.")
    if line.outcome != "unconfirmed":
        return ""
    said = [_("Only the 基礎年金番号 agrees; nothing else could be compared.")]
    if line.list_lacks:
        said.append(_("The list prints no {what} on this row.").format(
            what=_named(line.list_lacks)))
    for receipt, lacks in line.register_lacks.items():
        said.append(_("The register holds no {what} for {receipt}.").format(
            what=_named(lacks), receipt=receipt) if lacks else
            _("{receipt}: its name kana and birth date were keyed after this run.").format(
                receipt=receipt))
    if status == "confirmed":
        said.append(_("This list is confirmed, so its 突合 cannot run again: the row stays "
                      "without a result, and its item stays open in the register."))
    elif len(line.list_lacks) == 2:
        said.append(_("Keying the register cannot confirm this row, as the list prints "
                      "neither attribute. If confirmed, the row stays without a result, and "
                      "its item stays open in the register."))
    elif any(line.register_lacks.values()):
        said.append(_("Way forward: a scanning clerk keys the name kana and birth date on the "
                      "item's line in the register (`kura register identify`, or the "
                      "register room), then the list is reconciled again (possible until it "
                      "is confirmed)."))
    else:
        said.append(_("Way forward: reconcile the list again, and the row is compared on "
                      "what was keyed."))
    return " ".join(said)


def _unreadable(line: RowLine) -> str:
    """Why a row could not be matched at all, and where a person finds it."""
    number = line.list_side.get("basic_pension_number", "")
    if not (len(number) == 10 and number.isascii() and number.isdigit()):
        return _("The 基礎年金番号 read on this row ({number}) is not 10 digits: check it on "
                 "page {page} of the list; the row stays without a result, kept as it was "
                 "read.").format(number=number or "-", page=line.page)
    return _("No 届書区分 was read on this row: check it on page {page} of the list; the row "
             "stays without a result, kept as it was read.").format(page=line.page)


def report_csv(report: Report) -> bytes:
    """The report as CSV that Excel opens as it is (UTF-8 with a BOM); a row a person must
    look at says in its last column what it needs (`needs`)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([*report_titles(), _(NEEDS)])
    for row, line in zip(report_rows(report), report.rows, strict=True):
        writer.writerow([*row, needs(line, report.status)])
    return text.getvalue().encode("utf-8-sig")


def problem_words(reason: str) -> str | None:
    """A reason a list cannot be reconciled, in words (None: not such a reason)."""
    code, _sep, arg = reason.partition(":")
    words = {
        "list_page_missing": _("page {arg} of the list is missing"),
        "list_page_duplicate": _("page {arg} of the list was scanned twice"),
        "list_page_of_another_list": _("file page {arg} belongs to another list"),
        "list_page_number_unread": _("the page number of file page {arg} could not be read"),
        "list_page_order": _("the pages are out of order"),
        "list_row_number_gap": _("the row numbers jump after row {arg}"),
        "list_row_number_repeated": _("row number {arg} is printed twice"),
        "list_row_count": _("rows read / rows the total line counts: {arg}"),
    }.get(code)
    if words is None and code.startswith("unknown_page"):
        return _("a page of the file is not a page of the list")
    return words.format(arg=arg) if words else None
