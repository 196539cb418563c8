"""`kura batch …`: how far a batch has got."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from kura.calls import usecase
from kura.cli_people import token
from schemas.i18n import N_, _
from schemas.settings import get_settings

batch_app = typer.Typer(help=N_("Batches of scans taken in."), no_args_is_help=True)
console = Console()
FOLLOW_EVERY_S = 1.0


@batch_app.command("status")
def status(
    batch_id: Annotated[str | None, typer.Argument(
        help=N_("The batch id or its first characters; default the latest batch."))] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help=N_("Keep the bar moving until every page is read."))] = False,
) -> None:
    """Pages of a batch queued, read and failed, with a progress bar (scanning clerk)."""
    from storage.usecases.batches import BatchProgress

    batch_status = usecase("batches").batch_status

    settings = get_settings()
    with Progress(TextColumn(_("batch") + " {task.fields[batch]}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn(_("pages") + " · {task.fields[counts]}"),
                  console=console) as bar:
        task = bar.add_task("pages", total=None, batch="", counts="")

        def show(progress: BatchProgress) -> None:
            bar.update(task, total=progress.pages, completed=progress.read + progress.failed,
                       batch=progress.batch_id[:8],
                       counts=_("queued {queued}, read {read}, failed {failed}").format(
                           queued=progress.queued, read=progress.read,
                           failed=progress.failed))

        final = batch_status(settings, token, batch_id)
        show(final)
        while follow and not final.finished:  # asked again: here or through the server
            time.sleep(FOLLOW_EVERY_S)
            final = batch_status(settings, token, final.batch_id)  # this batch, not the latest
            show(final)
    console.print(_(
        "files {files} (finished {finished}, quarantined {quarantined}) · pages {pages}: "
        "queued {queued}, read {read}, failed {failed}").format(
            files=final.files, finished=final.files_finished,
            quarantined=final.files_quarantined, pages=final.pages, queued=final.queued,
            read=final.read, failed=final.failed), highlight=False)
    for page in final.failed_pages:
        console.print(_("  set aside in quarantine: {file} page {number} — {reason}").format(
            file=page.file, number=page.number, reason=page.reason), markup=False,
            highlight=False)
