"""`kura quarantine …`: the front end of the quarantine room (storage/usecases/quarantine.py).
Parse, call the use case, render; the use cases check the duty and write the audit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kura.cli_people import _read_token, ready
from schemas.errors import KuraError
from schemas.settings import Settings, get_settings

quarantine_app = typer.Typer(
    help="The quarantine room: files intake refused to read, each with its reason "
    "(records manager).", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


@contextmanager
def _spoken() -> Iterator[None]:
    """A refusal or failure is printed as its message, with its exit status."""
    from storage.accounts import AccountError

    try:
        yield
    except KuraError as error:
        err.print(Text(f"{error.code}: {error.message}"))
        raise typer.Exit(code=int(error.exit_code)) from None
    except AccountError as error:
        err.print(Text(f"refused: {error}"))
        raise typer.Exit(code=4) from None


def _call(use_case: Callable[..., T], *args: Any) -> tuple[Settings, T]:
    settings = get_settings()
    ready(settings)
    with _spoken():
        return settings, use_case(settings, _read_token(settings), *args)


def _as_dict(line: Any) -> dict[str, Any]:
    return {**line.__dict__, "received_at": line.received_at.isoformat()}


@quarantine_app.command("list")
def quarantine_list(
    closed: Annotated[bool, typer.Option("--all", help="Released and disposed too.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Files in quarantine, oldest first, with the reason each was refused."""
    from storage.usecases.quarantine import list_quarantine

    _, lines = _call(list_quarantine, closed)
    if as_json:
        print(json.dumps([_as_dict(line) for line in lines], ensure_ascii=False, indent=1))
        return
    table = Table(title=f"Quarantine: {len(lines)} files")
    for column in ("id", "received", "file", "times", "state", "reason"):
        table.add_column(column)
    for line in lines:
        table.add_row(line.id[:8], f"{line.received_at:%Y-%m-%d %H:%M}", line.label,
                      str(line.times_received), line.state, Text(line.reason))
    console.print(table)


@quarantine_app.command("show")
def quarantine_show(
    ident: Annotated[str, typer.Argument(help="The id (its first 8 characters will do).")],
    out: Annotated[Path | None, typer.Option(help="Write the file itself here.")] = None,
    reason: Annotated[str, typer.Option(help="Why the file is opened (with --out).")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One quarantined file: why, when, how often it arrived; with --out, the file itself
    (checked against its SHA-256; the reason is recorded)."""
    from storage.usecases.quarantine import open_file, show

    if out is not None:
        _, (line, data) = _call(open_file, ident, reason)
        out.write_bytes(data)
    else:
        _, line = _call(show, ident)
    if as_json:
        print(json.dumps(_as_dict(line), ensure_ascii=False, indent=1))
        return
    for name, value in _as_dict(line).items():
        console.print(Text(f"{name:15} {value}"))
    if out is not None:
        console.print(Text(f"wrote {out} ({line.size} bytes, SHA-256 verified)"))


@quarantine_app.command("release")
def quarantine_release(
    ident: Annotated[str, typer.Argument(help="The id (its first 8 characters will do).")],
    reason: Annotated[str, typer.Option(help="Why it is to be read after all.")],
) -> None:
    """Take a quarantined file in after all (say, once a limit was raised): it leaves
    quarantine and goes through every intake check again, as a new batch."""
    from kura.cli import _ingest, _print_batch
    from storage.usecases.quarantine import release
    from workers.intake import Arrival

    settings, (line, data) = _call(release, ident, reason)
    console.print(Text(f"released {line.id[:8]} ({line.label}); taking it in again"))
    batch_id, answers = _ingest(settings, [Arrival(line.label, data)], "quarantine", wait=True)
    _print_batch(settings, batch_id, 0.0, answers)


@quarantine_app.command("dispose")
def quarantine_dispose(
    ident: Annotated[str, typer.Argument(help="The id (its first 8 characters will do).")],
    reason: Annotated[str, typer.Option(help="Why it is to be disposed of (request).")] = "",
    approve: Annotated[bool, typer.Option(help="Approve another person's request.")] = False,
    refuse: Annotated[bool, typer.Option(help="Refuse another person's request.")] = False,
) -> None:
    """Disposal by two people: one requests it with a reason, another approves (the data
    key is destroyed, the sealed bytes removed where the store allows) or refuses."""
    from storage.usecases.quarantine import decide_disposal, request_disposal

    if approve and refuse:
        raise typer.BadParameter("--approve or --refuse, not both")
    if approve or refuse:
        _, line = _call(decide_disposal, ident, approve)
        console.print(f"quarantined file {line.id[:8]}: {line.state}")
        return
    _, line = _call(request_disposal, ident, reason)
    console.print(f"disposal of quarantined file {line.id[:8]} requested; another person "
                  f"approves it with `kura quarantine dispose {line.id[:8]} --approve`")


def watch(
    folder: Annotated[Path | None, typer.Argument(
        help="The hot folder (default KURA_WATCH_DIR).")] = None,
    archive: Annotated[Path | None, typer.Option(
        help="Move files taken in here (default KURA_WATCH_ARCHIVE_DIR; none: remove them).")
    ] = None,
    quarantine: Annotated[Path | None, typer.Option(
        help="Move refused files here, with a .reason.txt beside each (default "
        "KURA_WATCH_QUARANTINE_DIR, else '<folder>-quarantine').")] = None,
    settle: Annotated[float | None, typer.Option(
        help="Seconds a file's size and time must stand still (KURA_WATCH_SETTLE_SECONDS).")
    ] = None,
    poll: Annotated[bool | None, typer.Option(
        "--poll/--events", help="Look every few seconds (network shares) or wait for the "
        "system's change events (local disks); KURA_WATCH_POLL.")] = None,
) -> None:
    """Watch a hot folder: take in every file once it is complete, then archive or remove
    it; refused files go to the quarantine folder with their reason. Stops on Ctrl-C or
    SIGTERM; a restart finishes what was half taken in."""
    import signal
    import threading

    from workers.watch import Folders, HotFolder

    settings = get_settings()
    ready(settings)
    with _spoken():
        named = Folders.from_settings(settings, folder)
        folders = Folders(named.inbox, archive or named.archive,
                          quarantine or named.quarantine).check()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    hot = HotFolder(settings, folders, settings.watch_settle_seconds if settle is None
                    else settle)
    archived = folders.archive or "none: files taken in are removed"
    console.print(Text(f"watching {folders.inbox} (archive {archived}, quarantine "
                       f"{folders.quarantine})"))
    hot.run(stop, settings.watch_poll if poll is None else poll, settings.watch_poll_seconds)
    console.print("stopped")


def doctor(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the configuration and every dependency (Tesseract and its languages, the OCR
    models, the database and its migrations, Redis, S3 and Object Lock, keys and their file
    modes, the hot folder); say what is wrong and how to fix it. Exit status 1 when
    anything is."""
    from pydantic import ValidationError

    from workers.doctor import examine

    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = "KURA_" + "_".join(str(p) for p in problem["loc"]).upper()
            err.print(Text(f"✗ settings: {where}: {problem['msg']}"))
        raise typer.Exit(code=1) from None
    findings = examine(settings)
    if as_json:
        print(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=1))
    else:
        for finding in findings:
            mark = "✓" if finding.ok else "✗"
            console.print(Text(f"{mark} {finding.check}: {finding.detail}"))
            if finding.fix:
                console.print(Text(f"    fix: {finding.fix}"))
    if not all(finding.ok for finding in findings):
        raise typer.Exit(code=1)
