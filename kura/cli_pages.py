"""`kura quarantine pages …`: pages set aside in quarantine (they failed for good while the
rest of their file went on), read again or disposed of by two people, through the use cases
of storage/usecases/quarantine.py."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from kura.calls import usecase
from kura.cli_people import token
from kura.tables import JSON_HELP, Column, fitted
from schemas.i18n import N_, _
from schemas.settings import get_settings

pages_app = typer.Typer(
    help=N_("Pages that failed for good, with the reason; the rest of each file went on."),
    invoke_without_command=True)
console = Console(highlight=False, soft_wrap=True)

PAGE_ID_HELP = N_("The page id (its first 8 characters will do).")


def _as_dict(line: Any) -> dict[str, Any]:
    return {**line.__dict__, "received_at": line.received_at.isoformat()}


@pages_app.callback()
def quarantine_pages(ctx: typer.Context, as_json: Annotated[
        bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Pages that failed for good, with the reason; the rest of each file went on."""
    if ctx.invoked_subcommand is not None:
        return
    lines = usecase("quarantine").set_aside_pages(get_settings(), token)
    if as_json:
        print(json.dumps([_as_dict(line) for line in lines], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("page id"), 8, identifier=True), Column(_("received at"), 10, 4),
               Column(_("file"), 8, 2), Column(_("page"), 2, 3), Column(_("attempts"), 2, 0),
               Column(_("state"), 6, 1), Column(_("reason"), 12, 5)]
    rows = [[line.id[:8], f"{line.received_at:%Y-%m-%d %H:%M}", Text(line.label),
             str(line.number), str(line.attempts), _(line.state), Text(line.reason)]
            for line in lines]
    console.print(fitted(console, _("Pages set aside in quarantine: {count}").format(
        count=len(lines)), columns, rows))


@pages_app.command("reread")
def reread(
    ident: Annotated[str, typer.Argument(help=PAGE_ID_HELP)],
    reason: Annotated[str, typer.Option(help=N_("Why it is to be read again."))],
) -> None:
    """Read a page set aside again (once what stopped it is fixed or has passed), by the
    same page task; asked again while it waits, nothing changes."""
    from workers.runner import run_pages

    settings = get_settings()
    line = usecase("quarantine").reread_page(settings, token, ident, reason)
    if settings.server_url:
        console.print(Text(_("page {id} ({file} page {number}) is read again by the server")
                           .format(id=line.id[:8], file=line.label, number=line.number)))
        return
    run_pages(settings, [line.id])
    if settings.uses_celery:
        console.print(Text(_("page {id} ({file} page {number}) sent to the workers to be "
                             "read again").format(id=line.id[:8], file=line.label,
                                                  number=line.number)))
        return
    console.print(Text(_("page {id} ({file} page {number}) read again").format(
        id=line.id[:8], file=line.label, number=line.number)))


@pages_app.command("dispose")
def dispose(
    ident: Annotated[str, typer.Argument(help=PAGE_ID_HELP)],
    reason: Annotated[str, typer.Option(help=N_("Why it is to be disposed of (request)."))] = "",
    approve: Annotated[bool, typer.Option(help=N_("Approve another person's request."))] = False,
    refuse: Annotated[bool, typer.Option(help=N_("Refuse another person's request."))] = False,
) -> None:
    """Disposal of a page by two people: one requests it with a reason, another approves
    (the page is closed: never read, never listed again) or refuses."""
    quarantine = usecase("quarantine")
    if approve and refuse:
        raise typer.BadParameter(_("--approve or --refuse, not both"))
    settings = get_settings()
    if approve or refuse:
        line = quarantine.decide_page_disposal(settings, token, ident, approve)
        console.print(_("page {id} set aside: {state}").format(id=line.id[:8],
                                                               state=_(line.state)))
        return
    line = quarantine.request_page_disposal(settings, token, ident, reason)
    console.print(_("disposal of page {id} requested; another person approves it with "
                    "`kura quarantine pages dispose {id} --approve`").format(id=line.id[:8]))
