"""The pipeline's pieces the register's use cases are handed (storage may not import the
pipeline): the 進達 documents and archive (pipeline/transmittal.py) and the matching rules of
突合 (pipeline/reconcile.py), over the plain data the use cases give; and the 突合 report
printed (pipeline/reports.py), which the report use case hands out to `kura totsugo … --pdf`
and the register room alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.reconcile import ListRow, Reconciliation, RegisterEntry, reconcile
from pipeline.reports import table_pdf
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
    long for its column is cut there, whole in the CSV); under a row a person must look at,
    what it needs (`needs`), whole, across the page."""
    columns = [(title, width) for title, (_name, width)
               in zip(report_titles(), REPORT_COLUMNS, strict=True)]
    return table_pdf(_("突合 report"), report_summary(report), columns, report_rows(report),
                     [needs(line, report.status) for line in report.rows])
