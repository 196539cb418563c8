"""The pipeline's pieces the register's use cases are handed (storage may not import the
pipeline): the 進達 documents and archive (pipeline/transmittal.py) and the matching rules of
突合 (pipeline/reconcile.py), over the plain data the use cases give; and the 突合 report
printed (pipeline/reports.py), which the report use case hands out to `kura totsugo … --pdf`
and the register room alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.reconcile import ListRow, Reconciliation, RegisterEntry, reconcile
from pipeline.reports import _mm, table_pdf
from pipeline.transmittal import Transmittal, TransmittalPackage, build_package
from schemas.i18n import _
from storage.reconcile_words import (
    REPORT_COLUMNS,
    needs,
    report_rows,
    report_summary,
    report_titles,
)
from storage.usecases.reconciliation import Report
from storage.usecases.transmittals import Contents

NEEDS_FROM = 2
"""The column the words of what a row needs start under (after No and Page)."""


def build_transmittal(contents: Contents) -> TransmittalPackage:
    """送付書, 送付内容内訳書 and records in an AES-256 ZIP under a new password."""
    return build_package(Transmittal(
        batch_id=contents.number, prepared_on=contents.prepared_on,
        addressee=contents.addressee, sender=contents.sender,
        municipality_code=contents.municipality_code, purpose=contents.purpose,
        items=contents.items))


def match(rows: list[dict[str, Any]], entries: list[dict[str, Any]], municipality_code: str,
          today: dt.date, overdue_days: int) -> Reconciliation:
    return reconcile([ListRow(**row) for row in rows],
                     [RegisterEntry(**entry) for entry in entries],
                     municipality_code=municipality_code, today=today,
                     overdue_days=overdue_days)


def report_pdf(report: Report) -> bytes:
    """The 突合 report on A4: the summary lines, then every row as the CSV has it (a cell too
    long for its column is cut there, whole in the CSV); under an unconfirmed row, what it
    lacks and the way forward, whole, on lines of their own."""
    columns = [(title, width) for title, (_name, width)
               in zip(report_titles(), REPORT_COLUMNS, strict=True)]
    widths = [width for _title, width in columns[NEEDS_FROM:]]
    rows: list[list[str]] = []
    for row, line in zip(report_rows(report), report.rows, strict=True):
        rows.append(row)
        rows += [[""] * NEEDS_FROM + cells for cells in _flowed(needs(line, report.status),
                                                               widths)]
    return table_pdf(_("突合 report"), report_summary(report), columns, rows)


def _flowed(text: str, widths: list[float]) -> list[list[str]]:
    """`text` laid over cells of these widths, row after row, each cell running on from the
    one before (the table has no vertical rules, so it reads as lines of text)."""
    rows = []
    while text:
        cells = []
        for width in widths:
            piece = _fitting(text, width)
            cells.append(piece)
            text = text[len(piece):].lstrip(" ")
        rows.append(cells)
    return rows


def _fitting(text: str, width: float) -> str:
    """As much of `text` as fits a cell `width` mm wide, never cutting a word of Latin
    letters or digits (a 受付番号) where a space before it allows."""
    room, end = width - 1.5, 0
    while end < len(text) and _mm(text[:end + 1]) <= room:
        end += 1
    if 0 < end < len(text) and _in_word(text, end):
        space = text.rfind(" ", 0, end)
        end = space if space > 0 else end
    return text[:end]


def _in_word(text: str, at: int) -> bool:
    """Whether `at` falls between two characters of one Latin word."""
    return all(c.isascii() and not c.isspace() for c in (text[at - 1], text[at]))
