"""`kura quarantine …`: the front end of the quarantine room (storage/usecases/quarantine.py),
`kura watch` (workers/watch.py) and `kura doctor` (workers/doctor.py). Parse, call the use
case, render; the use cases check the duty and write the audit, and a refusal or failure is
printed with its exit status by kura.cli.main."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from kura.calls import usecase
from kura.cli_pages import pages_app
from kura.cli_people import token
from kura.tables import JSON_HELP, Column, fitted
from schemas.errors import ExitCode, KuraError
from schemas.i18n import N_, _, language, ngettext
from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from storage.intake import Answer, TurnedAway
    from storage.queries import BatchReport
    from storage.usecases.base import Token
    from workers.intake import Arrival

quarantine_app = typer.Typer(
    help=N_("The quarantine room: files intake refused to read, each with its reason "
            "(records manager)."), no_args_is_help=True)
quarantine_app.add_typer(pages_app, name="pages")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --- taking files in (kura ingest, kura demo, kura quarantine release) ---------------------


def _gather(paths: list[Path]) -> list[Arrival | TurnedAway]:
    """Every entry of the files and folders given (workers.intake.gather); a path given on
    the command line must exist."""
    from workers.intake import gather, shown_name

    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise typer.BadParameter(_("{path} does not exist").format(
                path=shown_name(str(path))))
    return gather(paths)


def _ingest(settings: Settings, session_token: Token,
            entries: Sequence[Arrival | TurnedAway], channel: str,
            wait: bool) -> tuple[str, list[Answer]]:
    """Take files in as the signed-in scanning clerk, then have their pages read."""
    from workers.intake import INTAKE_CHECKS
    from workers.runner import resume_interrupted

    result = usecase("intake").take_in_batch(settings, session_token, entries, channel,
                                             INTAKE_CHECKS)
    if settings.server_url:  # the server has the pages read: this machine follows them
        if wait:
            _wait_for_batch(settings, result.batch_id)
        return result.batch_id, result.answers
    # what a killed command or a lost message left unfinished, before this batch's own pages
    resume_interrupted(settings, but_not=result.batch_id)
    _read_pages(settings, result.batch_id, result.page_ids, wait)
    return result.batch_id, result.answers


def _read_pages(settings: Settings, batch_id: str, page_ids: list[str], wait: bool) -> None:
    from workers.runner import run_pages

    run_pages(settings, page_ids)
    if wait and settings.uses_celery:
        _wait_for_batch(settings, batch_id)


class TimedOut(KuraError):
    code = "timed_out"
    exit_code = ExitCode.timed_out


def _wait_for_batch(settings: Settings, batch_id: str, timeout_s: float = 3600) -> None:
    from storage.usecases.intake import batch_busy

    def busy() -> bool:
        if settings.server_url:
            return not usecase("batches").batch_status(settings, token, batch_id).finished
        return batch_busy(settings, batch_id)

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not busy():
            return
        time.sleep(0.2)  # a cheap count; the batch's end is seen sooner
    raise TimedOut(_("batch {batch} is still being read after {seconds} s").format(
        batch=batch_id[:8], seconds=f"{timeout_s:.0f}"),
        hint=_("the workers go on; `kura queue` shows what is done"))


def _batch_entries(settings: Settings, batch_id: str,
                   answers: list[Answer]) -> tuple[BatchReport, list[dict[str, Any]]]:
    """Where every entry of a batch went: what was stored (storage.queries.batch_report)
    beside what was not (skipped, refused), in the order given."""
    intake = usecase("intake")
    report = (intake.batch_report_of(settings, token, batch_id) if settings.server_url
              else intake.report_of_batch(settings, batch_id))
    stored = {line.position: line for line in report.files}
    entries = []
    for answer in answers:
        line = stored.get(answer.position)
        entry: dict[str, Any] = {"position": answer.position + 1, "file": answer.filename,
                                 "outcome": answer.outcome, "code": answer.code or None,
                                 "reason": answer.reason or None, "pages": 0, "receipts": [],
                                 "flags": []}
        if line is not None:
            entry.update(status=line.status, pages=line.pages, receipts=line.receipts,
                         flags=line.flags, reason=line.reason)
        entries.append(entry)
    return report, entries


def _print_batch(settings: Settings, batch_id: str, seconds: float, answers: list[Answer],
                 as_json: bool = False) -> None:
    """Where every entry went. File names are shown here as given (made printable, never
    read as markup) and not kept (storage.intake.file_label)."""
    from web.i18n import reason_words
    from workers.intake import shown_name

    report, entries = _batch_entries(settings, batch_id, answers)
    if as_json:
        print(json.dumps({"batch": batch_id, "entries": entries}, ensure_ascii=False, indent=1))
        return
    # a 受付番号 per line, whole; the reason folds beneath it
    columns = [Column("#", 2, 3), Column(_("File"), 10, 1), Column(_("Pages"), 2, 0),
               Column(_("Status"), 6, 2), Column(_("Receipt number / reason"), 17, identifier=True)]
    rows = []
    for entry in entries:
        status = entry.get("status", entry["outcome"])
        status = "quarantined" if status == "rejected" else status
        notes = [reason_words(flag, language()) for flag in entry["flags"]]
        where = "\n".join([*entry["receipts"], *filter(None, [entry["reason"]]), *notes])
        rows.append([str(entry["position"]), Text(shown_name(entry["file"])),
                     str(entry["pages"] or ""), _(status), Text(where)])
    console.print(fitted(console, _("Batch {batch}").format(batch=batch_id[:8]), columns, rows))
    counted = Counter(entry["outcome"] for entry in entries)
    console.print(_(
        "entries {entries} (taken {taken}, quarantined {quarantined}, refused {refused}, "
        "skipped {skipped}) · pages {pages} (blank {blank}, unrecognised {unknown}, failed "
        "{failed}) · documents {documents}").format(
            entries=len(entries), taken=counted["taken"], quarantined=counted["quarantined"],
            refused=counted["refused"], skipped=counted["skipped"], pages=report.pages,
            blank=report.pages_blank, unknown=report.pages_unknown,
            failed=report.pages_failed, documents=report.documents), highlight=False)
    console.print(_(
        "fields accepted {accepted} · fields waiting for review {review} · time {seconds} s"
        ).format(accepted=report.fields_accepted, review=report.fields_review,
                 seconds=f"{seconds:.1f}"), highlight=False)


# --- kura quarantine ------------------------------------------------------------------------



def _as_dict(line: Any) -> dict[str, Any]:
    return {**line.__dict__, "received_at": line.received_at.isoformat()}


@quarantine_app.command("list")
def quarantine_list(
    closed: Annotated[bool, typer.Option("--all", help=N_("Released and disposed too."))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Files in quarantine, oldest first, with the reason each was refused."""
    list_quarantine = usecase("quarantine").list_quarantine

    lines = list_quarantine(get_settings(), token, closed)
    if as_json:
        print(json.dumps([_as_dict(line) for line in lines], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("Id"), 8, identifier=True), Column(_("Received"), 10, 4),
               Column(_("File"), 8, 2), Column(_("Times"), 2, 0), Column(_("State"), 6, 1),
               Column(_("Reason"), 12, 3)]
    rows = [[line.id[:8], f"{line.received_at:%Y-%m-%d %H:%M}", Text(line.label),
             str(line.times_received), _(line.state), Text(line.reason)] for line in lines]
    console.print(fitted(console, ngettext("Quarantine: {count} file", "Quarantine: {count} files",
                                           len(lines)).format(count=len(lines)), columns, rows))


@quarantine_app.command("show")
def quarantine_show(
    ident: Annotated[str, typer.Argument(help=N_("The id (its first 8 characters will do)."))],
    out: Annotated[Path | None, typer.Option(help=N_("Write the file itself here."))] = None,
    reason: Annotated[str, typer.Option(help=N_("Why the file is opened (with --out)."))] = "",
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """One quarantined file: why, when, how often it arrived; with --out, the file itself
    (checked against its SHA-256; the reason is recorded)."""
    open_file, show = usecase("quarantine").open_file, usecase("quarantine").show

    settings = get_settings()
    if out is not None:
        line, data = open_file(settings, token, ident, reason)
        out.write_bytes(data)
    else:
        line = show(settings, token, ident)
    if as_json:
        print(json.dumps(_as_dict(line), ensure_ascii=False, indent=1))
        return
    for name, value in _as_dict(line).items():
        console.print(Text(f"{name:15} {value}"))
    if out is not None:
        console.print(Text(_("wrote {path} ({size} bytes, SHA-256 verified)").format(
            path=out, size=line.size)))


@quarantine_app.command("release")
def quarantine_release(
    ident: Annotated[str, typer.Argument(help=N_("The id (its first 8 characters will do)."))],
    reason: Annotated[str, typer.Option(help=N_("Why it is to be read after all."))],
) -> None:
    """Take a quarantined file in after all (say, once a limit was raised): it leaves
    quarantine and goes through every intake check again, as a new batch."""
    from workers.intake import INTAKE_CHECKS

    settings = get_settings()
    line, again = usecase("quarantine").release(settings, token, ident, reason, INTAKE_CHECKS)
    console.print(Text(_("released {id} ({file}); taken in again").format(
        id=line.id[:8], file=line.label)))
    if settings.server_url:  # the server reads its pages; following a batch is the desk's
        console.print(Text(_("its pages are read by the server as batch {batch}").format(
            batch=again.batch_id[:8])))
        return
    _read_pages(settings, again.batch_id, again.page_ids, wait=True)
    _print_batch(settings, again.batch_id, 0.0, again.answers)


@quarantine_app.command("dispose")
def quarantine_dispose(
    ident: Annotated[str, typer.Argument(help=N_("The id (its first 8 characters will do)."))],
    reason: Annotated[str, typer.Option(help=N_("Why it is to be disposed of (request)."))] = "",
    approve: Annotated[bool, typer.Option(help=N_("Approve another person's request."))] = False,
    refuse: Annotated[bool, typer.Option(help=N_("Refuse another person's request."))] = False,
) -> None:
    """Disposal by two people: one requests it with a reason, another approves (the data
    key is destroyed, the sealed bytes removed where the store allows) or refuses."""
    quarantine = usecase("quarantine")
    decide_disposal, request_disposal = quarantine.decide_disposal, quarantine.request_disposal

    if approve and refuse:
        raise typer.BadParameter(_("--approve or --refuse, not both"))
    settings = get_settings()
    if approve or refuse:
        line = decide_disposal(settings, token, ident, approve)
        console.print(_("quarantined file {id}: {state}").format(id=line.id[:8],
                                                                 state=_(line.state)))
        return
    line = request_disposal(settings, token, ident, reason)
    console.print(_("disposal of quarantined file {id} requested; another person approves it "
                    "with `kura quarantine dispose {id} --approve`").format(id=line.id[:8]))


def watch(
    folder: Annotated[Path | None, typer.Argument(
        help=N_("The hot folder (default KURA_WATCH_DIR)."))] = None,
    archive: Annotated[Path | None, typer.Option(
        help=N_("Move files taken in here (default KURA_WATCH_ARCHIVE_DIR; none: remove them)."))
    ] = None,
    quarantine: Annotated[Path | None, typer.Option(
        help=N_("Move refused files here, with a .reason.txt beside each (default "
        "KURA_WATCH_QUARANTINE_DIR, else '<folder>-quarantine')."))] = None,
    settle: Annotated[float | None, typer.Option(
        help=N_("Seconds a file's size and time must stand still (KURA_WATCH_SETTLE_SECONDS)."))
    ] = None,
    poll: Annotated[bool | None, typer.Option(
        "--poll/--events", help=N_("Look every few seconds (network shares) or wait for the "
        "system's change events (local disks); KURA_WATCH_POLL."))] = None,
) -> None:
    """Watch a hot folder: take in every file once it is complete, then archive or remove
    it; refused files go to the quarantine folder with their reason. Stops on Ctrl-C or
    SIGTERM; a restart finishes what was half taken in."""
    import signal
    import threading

    from storage.usecases.base import ready
    from workers.watch import Folders, HotFolder

    settings = get_settings()
    ready(settings)
    named = Folders.from_settings(settings, folder)
    folders = Folders(named.inbox, archive or named.archive,
                      quarantine or named.quarantine).check()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    hot = HotFolder(settings, folders, settings.watch_settle_seconds if settle is None
                    else settle)
    archived = folders.archive or _("none: files taken in are removed")
    console.print(Text(_("watching {inbox} (archive {archive}, quarantine {quarantine})").format(
        inbox=folders.inbox, archive=archived, quarantine=folders.quarantine)))
    hot.run(stop, settings.watch_poll if poll is None else poll, settings.watch_poll_seconds)
    console.print(_("stopped"))


def doctor(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the configuration and every dependency (Tesseract and its languages, the OCR
    models, the database and its migrations, Redis, S3 and Object Lock, keys and their file
    modes, the hot folder); say what is wrong and how to fix it. Exit status 1 when
    anything is (2 when a setting cannot be taken at all)."""
    from workers.doctor import examine

    findings = examine(get_settings())  # settings it cannot take are said before it runs
    if as_json:
        print(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=1))
    else:
        for finding in findings:
            mark = "✓" if finding.ok else "✗"
            console.print(Text(f"{mark} {finding.check}: {finding.detail}"))
            if finding.fix:
                console.print(Text(_("    fix: {fix}").format(fix=finding.fix)))
    if not all(finding.ok for finding in findings):
        raise typer.Exit(code=1)
