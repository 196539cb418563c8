"""The register's life at the command line: `kura register …` (受付処理簿), `kura shintatsu …`
(進達 batches and the media ledger) and `kura totsugo …` (突合 of a 処理結果一覧表).

Each command parses, calls its use case in storage/usecases/ (register.py, transmittals.py,
reconciliation.py) and renders the result; the pipeline's parts those use cases need (the
進達 documents, the matching rules) are handed in from workers/register.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kura.calls import usecase
from kura.cli_people import token, write_private
from schemas.i18n import N_, _
from schemas.settings import get_settings
from storage.reconcile_words import needs, report_rows, report_summary, report_titles

if TYPE_CHECKING:
    from storage.usecases.reconciliation import Report
    from storage.usecases.register import Line

register_app = typer.Typer(
    help=N_("The register (受付処理簿): open items, overdue, weekly, export."),
    no_args_is_help=True)
shintatsu_app = typer.Typer(
    help=N_("進達: batches to 日本年金機構, by two people; the media ledger."),
    no_args_is_help=True)
totsugo_app = typer.Typer(help=N_("突合: a 処理結果一覧表 against the register, confirmed by "
                                 "another person."), no_args_is_help=True)
console = Console()

# --- kura register ----------------------------------------------------------------------------


def _register_table(title: str, lines: list[Line], age: str) -> Table:
    from storage.usecases.register import route_word, stage_word

    table = Table(title=title)
    for column in (_("Receipt number"), _("Received on"), _("Route"), _("Form"),
                   _("Notification type"), _("Stage"), _("Transmittal"), age):
        table.add_column(column)
    for line in lines:
        table.add_row(line.receipt_number or _("(filed at 日本年金機構)"),
                      line.received_date.isoformat(), route_word(line.route),
                      line.form_title or line.form_id or "?", line.notification_type,
                      stage_word(line.stage), line.transmittal, str(line.age_days))
    return table


@register_app.command("list", help=N_(
    "Items not yet filed, the oldest first, with their age in days."))
def register_list() -> None:
    open_items = usecase("register").open_items

    lines = open_items(get_settings(), token)
    console.print(_register_table(_("Open items: {count}").format(count=len(lines)), lines,
                                  _("Days since received")))


@register_app.command("overdue", help=N_(
    "Items forwarded more than N days ago still without a result."))
def register_overdue(days: Annotated[int | None, typer.Option(
        help=N_("Days after 進達 (default: KURA_RESULT_OVERDUE_DAYS, 60)."))] = None) -> None:
    overdue = usecase("register").overdue

    lines = overdue(get_settings(), token, days)
    console.print(_register_table(_("Forwarded without a result: {count}").format(
        count=len(lines)), lines, _("Days since forwarded")))


@register_app.command("weekly", help=N_(
    "Per week and form: items received, forwarded and results recorded."))
def register_weekly(weeks: Annotated[int, typer.Option(help=N_("How many weeks back."))] = 8
                    ) -> None:
    from schemas.forms import get_form
    weekly = usecase("register").weekly

    table = Table(title=_("Weekly counts"))
    for column in (_("Week of"), _("Form"), _("Received"), _("Forwarded"), _("Results")):
        table.add_column(column)
    for count in weekly(get_settings(), token, weeks):
        try:
            form = get_form(count.form_id).title
        except Exception:  # a document whose form is not known (yet)
            form = count.form_id or "?"
        table.add_row(count.week.isoformat(), form, str(count.received), str(count.forwarded),
                      str(count.results))
    console.print(table)


@register_app.command("export", help=N_(
    "The whole register as CSV that Excel opens as it is (no personal values in it)."))
def register_export(
    out: Annotated[Path, typer.Option(help=N_("The CSV file to write."))],
    cp932: Annotated[bool, typer.Option("--cp932", help=N_(
        "Shift_JIS (CP932) for older Excel, instead of UTF-8 with BOM."))] = False,
) -> None:
    export_csv = usecase("register").export_csv

    data = export_csv(get_settings(), token, "cp932" if cp932 else "utf-8-sig")
    write_private(out, data)
    console.print(_("Wrote {path} ({size} bytes)").format(path=out, size=len(data)))


@register_app.command("describe", help=N_(
    "Say how a document came in (窓口 or 郵送), at the desk."))
def register_describe(
    receipt_number: str,
    route: Annotated[str, typer.Option(help=N_("counter (窓口) | mail (郵送)"))],
    office: Annotated[str, typer.Option(
        help=N_("The receiving office (default KURA_OFFICE)."))] = "",
) -> None:
    describe = usecase("register").describe

    describe(get_settings(), token, receipt_number, route, office)
    console.print(_("{receipt}: recorded").format(receipt=receipt_number))


@register_app.command("identify", help=N_(
    "Key a forward-only item's name kana and birth date at the counter (年金生活者支援給付金: "
    "its form does not carry them), so that 突合 can confirm its result by two attributes."))
def register_identify(
    receipt_number: str,
    kana: Annotated[str, typer.Option(help=N_("The name in katakana, as on the claim."))],
    born: Annotated[str, typer.Option(
        help=N_("The birth date: 1950-04-01, S25.4.1 or 昭和25年4月1日."))],
) -> None:
    identify = usecase("register").identify

    identify(get_settings(), token, receipt_number, kana, born)
    console.print(_("{receipt}: recorded").format(receipt=receipt_number))


# --- kura shintatsu -----------------------------------------------------------------------------


@shintatsu_app.command("prepare", help=N_(
    "Prepare a 進達 batch of verified (and forward-only) documents; another person checks "
    "and releases it."))
def shintatsu_prepare(
    receipts: Annotated[list[str] | None, typer.Argument(
        help=N_("受付番号 to send (default: every document ready to forward)."))] = None,
    addressee: Annotated[str, typer.Option(help=N_("Default KURA_JPS_ADDRESSEE."))] = "",
    purpose: Annotated[str, typer.Option(help=N_("What is sent, for the media ledger."))] = "",
) -> None:
    from storage.usecases.transmittals import PURPOSE
    prepare = usecase("transmittals").prepare

    batch = prepare(get_settings(), token, receipts or [], purpose or PURPOSE, addressee)
    _show_batch(batch)
    console.print(_("Prepared {number}: another person checks it and runs `kura shintatsu "
                    "release {number}`").format(number=batch.number))


def _show_batch(batch: object) -> None:
    from storage.usecases.transmittals import Batch

    assert isinstance(batch, Batch)
    table = Table(title=_("{number}: {count} items to {addressee}").format(
        number=batch.number, count=len(batch.items), addressee=batch.addressee))
    for column in (_("Receipt number"), _("Form"), _("Notification type"), _("Pages")):
        table.add_column(column)
    for receipt, form, kind, pages in batch.items:
        table.add_row(receipt, form, kind, str(pages))
    console.print(table)


@shintatsu_app.command("show", help=N_(
    "A batch as the checker sees it: addressee, items, who prepared it."))
def shintatsu_show(number: str) -> None:
    show = usecase("transmittals").show

    batch = show(get_settings(), token, number)
    _show_batch(batch)
    console.print(_("Prepared by {person}; status {status}").format(
        person=batch.prepared_by, status=batch.status))


@shintatsu_app.command("release", help=N_(
    "Check and release a batch (a person other than the one who prepared it): writes the "
    "AES-256 ZIP (records and 送付内容内訳書) and the 送付書 PDF; the password is shown once."))
def shintatsu_release(
    number: str,
    addressee: Annotated[str, typer.Option(help=N_("The addressee, as you checked it."))],
    items: Annotated[int, typer.Option(help=N_("The number of items, as you counted them."))],
    out: Annotated[Path, typer.Option(help=N_("Folder on the medium to write the archive "
                                              "and the 送付書 into."))],
) -> None:
    release = usecase("transmittals").release
    from workers.register import build_transmittal

    out.mkdir(parents=True, exist_ok=True)
    released = release(get_settings(), token, number, addressee, items, build_transmittal)
    write_private(out / f"{released.number}.zip", released.archive)
    write_private(out / f"{released.number}_送付書.pdf", released.cover_note_pdf)
    console.print(_("Released {number}: {count} items, archive SHA-256 {sha}").format(
        number=released.number, count=released.items, sha=released.archive_sha256))
    console.print(_("Its password, shown this once (send it separately): {password}").format(
        password=released.password))


@shintatsu_app.command("ledger", help=N_(
    "The 記録媒体管理台帳: every batch, who prepared and released it, the archive's SHA-256 and "
    "the registered-mail number."))
def shintatsu_ledger() -> None:
    ledger = usecase("transmittals").ledger

    table = Table(title=_("Media ledger"))
    for column in (_("Batch"), _("Status"), _("Purpose"), _("Items"), _("Prepared by"),
                   _("Released by"), _("Released at"), _("SHA-256"), _("Registered mail")):
        table.add_column(column)
    for line in ledger(get_settings(), token):
        table.add_row(line.number, line.status, line.purpose, str(line.item_count),
                      line.prepared_by, line.released_by or "",
                      line.released_at.strftime("%Y-%m-%d %H:%M") if line.released_at else "",
                      (line.archive_sha256 or "")[:16],
                      (line.registered_mail_number or "")
                      + (" " + _("(receipt kept)") if line.mail_receipt_kept else ""))
    console.print(table)


@shintatsu_app.command("registered-mail", help=N_(
    "Enter the 書留番号 of a released batch, with the scan of its 差出票."))
def shintatsu_registered_mail(
    number: str,
    mail_number: str,
    receipt_scan: Annotated[Path | None, typer.Option(
        help=N_("The scan of the 書留の差出票 (kept 3 years)."))] = None,
) -> None:
    registered_mail = usecase("transmittals").registered_mail

    data = receipt_scan.read_bytes() if receipt_scan else None
    registered_mail(get_settings(), token, number, mail_number, data)
    console.print(_("{number}: registered mail {mail} recorded").format(
        number=number, mail=mail_number))


# --- kura totsugo ----------------------------------------------------------------------------


@totsugo_app.command("take", help=N_(
    "Take a scanned 処理結果一覧表 in as an original (sealed, locked, retained) and read its "
    "rows; says its 受付番号 and what would stop its 突合."))
def totsugo_take(
    paths: Annotated[list[Path], typer.Argument(help=N_("Scans of the list (PDF, TIFF …)."))],
) -> None:
    from kura.cli_intake import _gather, _ingest
    lists_of_batch = usecase("reconciliation").lists_of_batch

    settings = get_settings()
    batch_id, _answers = _ingest(settings, token, _gather(paths), "cli", True)
    taken = lists_of_batch(settings, token, batch_id)
    if not taken:
        console.print(_("No 処理結果一覧表 was found in these scans"))
        raise typer.Exit(1)
    for found in taken:
        console.print(_("{receipt}: {pages} pages, {rows} rows ({unsure} with a cell to "
                        "check)").format(receipt=found.receipt_number, pages=found.pages,
                                         rows=found.rows, unsure=found.unsure_rows))
        for problem in found.problems:
            console.print("  " + problem)


CsvOut = Annotated[Path | None, typer.Option("--csv", help=N_("Write the report as CSV."))]
PdfOut = Annotated[Path | None, typer.Option("--pdf", help=N_("Write the report as PDF."))]


@totsugo_app.command("run", help=N_(
    "Reconcile a list against the register and report; nothing is recorded until another "
    "person confirms."))
def totsugo_run(
    receipt_number: str,
    csv_out: CsvOut = None,
    pdf_out: PdfOut = None,
) -> None:
    reconcile = usecase("reconciliation").reconcile
    from workers.register import match

    report = reconcile(get_settings(), token, receipt_number, match)
    _render(report, csv_out, pdf_out)


@totsugo_app.command("show", help=N_(
    "The reconciliation report of a list."))
def totsugo_show(
    receipt_number: str,
    csv_out: CsvOut = None,
    pdf_out: PdfOut = None,
) -> None:
    report = usecase("reconciliation").report

    _render(report(get_settings(), token, receipt_number), csv_out, pdf_out)


@totsugo_app.command("confirm", help=N_(
    "Confirm a reconciled list (not the person who ran it, nor one who entered its "
    "items): the register records the results and the documents are filed."))
def totsugo_confirm(
    receipt_number: str,
    accept: Annotated[list[int] | None, typer.Option(
        help=N_("A row with differences you checked and accept (its printed number); repeat."))
    ] = None,
) -> None:
    confirm = usecase("reconciliation").confirm

    _render(confirm(get_settings(), token, receipt_number, accept or []), None, None)


def _render(report: Report, csv_out: Path | None, pdf_out: Path | None) -> None:
    rows = report_rows(report)
    titles = report_titles()
    for said in report_summary(report):
        console.print(said, highlight=False)
    table = Table(title=_("突合 report"))
    for title in titles:
        table.add_column(title)
    for row, line in zip(rows, report.rows, strict=True):
        if line.outcome != "matched":  # the summary counts the rest
            table.add_row(*row)
    console.print(table)
    for line in report.rows:
        if said := needs(line, report.status):
            console.print(_("Row {number}: {needs}").format(number=line.number, needs=said),
                          highlight=False)
    for file_format, out in (("csv", csv_out), ("pdf", pdf_out)):
        if out is not None:  # the files from the use case, which records each one made
            report_file = usecase("reconciliation").report_file
            from workers.register import report_pdf

            data = report_file(get_settings(), token, report.list_receipt, file_format,
                               report_pdf)
            write_private(out, data)
            console.print(_("Wrote {path} ({size} bytes)").format(path=out, size=len(data)))
