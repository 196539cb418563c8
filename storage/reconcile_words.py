"""The 突合 report in words: what each outcome and state is called, the lines that sum it
up, the report's columns and rows, and the report as CSV for Excel. The command line
(`kura totsugo`) and the register room (web/rooms/register.py) say it the same way."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from schemas.i18n import N_, _

if TYPE_CHECKING:
    from storage.usecases.reconciliation import Report

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
        if "name_kana" in line.differences:
            kana = f"{kana} / {line.register_side.get('name_kana', '')}"
        if "birth_date" in line.differences:
            birth = f"{birth} / {line.register_side.get('birth_date', '')}"
        outcome = outcome_word(line.outcome)
        if line.accepted:
            outcome += " " + _("(accepted)")
        rows.append([str(line.number), str(line.page), outcome,
                     line.receipt_number or ", ".join(line.candidates),
                     side.get("basic_pension_number", ""), kana, birth,
                     side.get("notification_type", ""), side.get("result", "")])
    return rows


def report_csv(report: Report) -> bytes:
    """The report as CSV that Excel opens as it is (UTF-8 with a BOM)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(report_titles())
    writer.writerows(report_rows(report))
    return text.getvalue().encode("utf-8-sig")
