"""The `kura` command: the one entry point people type."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kura.bench.cli import bench_app
from kura.cli_custody import backup, dispose_app, find, hold_app, keys_app, restore
from kura.cli_intake import doctor, quarantine_app, watch
from kura.cli_people import audit_app, login, logout, ready, require, users_app, whoami
from schemas.settings import Settings, get_settings
from storage.audit import Actor

if TYPE_CHECKING:
    from storage.queries import BatchReport
    from workers.intake import Answer, Arrival, TurnedAway

app = typer.Typer(
    help="Kura (蔵): secure intake and OCR for national-pension paperwork.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
forms_app = typer.Typer(help="Form definitions (schemas/forms/*.yaml).", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(forms_app, name="forms")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.add_typer(keys_app, name="keys")
app.add_typer(hold_app, name="hold")
app.add_typer(dispose_app, name="dispose")
app.command()(find)
app.command()(backup)
app.command()(restore)
app.add_typer(quarantine_app, name="quarantine")
app.command()(watch)
app.command()(doctor)
console = Console()


def _gather(paths: list[Path]) -> list[Arrival | TurnedAway]:
    """Every entry of the files and folders given (workers.intake.gather); a path given on
    the command line must exist."""
    from workers.intake import gather, shown_name

    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise typer.BadParameter(f"{shown_name(str(path))} does not exist")
    return gather(paths)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Run the database migrations up to the newest, then grant the application role
    (KURA_DB_APP_ROLE) what it may do."""
    from storage.db import grant_app_role

    settings = get_settings()
    ready(settings)
    if settings.db_app_role:
        grant_app_role(settings.sqlalchemy_url, settings.db_app_role)
        console.print(f"privileges of {settings.db_app_role} brought up to date")
    console.print("database is up to date")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of scans.")],
    wait: Annotated[bool, typer.Option(help="Wait until every page is read.")] = True,
    channel: Annotated[str, typer.Option(help="cli | upload | hot_folder")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print every entry as JSON.")] = False,
) -> None:
    """Take scans in as one batch: seal the originals, open 受付 entries, read every page
    (scanning clerk). Every entry of a folder is answered: taken, quarantined (sealed, with
    the reason), refused (not stored: a symbolic link, not a regular file, too large) or
    skipped (hidden and temporary files)."""
    settings = get_settings()
    actor = require(settings, "intake")
    started = time.perf_counter()
    entries = _gather(paths)
    batch_id, answers = _ingest(settings, entries, channel, wait, actor)
    _print_batch(settings, batch_id, time.perf_counter() - started, answers, as_json)


def _ingest(
    settings: Settings,
    entries: list[Arrival | TurnedAway],
    channel: str,
    wait: bool,
    actor: Actor | None = None,
) -> tuple[str, list[Answer]]:
    """Take files in as `actor` (a signed-in scanning clerk; default the service identity)."""
    from storage.audit import checkpoint_if_due
    from storage.db import session_scope
    from storage.runtime import vault_for
    from workers.intake import take_in
    from workers.runner import run_pages

    with session_scope(settings.sqlalchemy_url) as session:
        result = take_in(session, vault_for(settings), entries, channel, actor=actor)
    checkpoint_if_due(settings)
    run_pages(settings, result.page_ids)
    if wait and settings.uses_celery:
        _wait_for_batch(settings, result.batch_id)
    return result.batch_id, result.answers


def _wait_for_batch(settings: Settings, batch_id: str, timeout_s: float = 3600) -> None:
    from sqlalchemy import func, select

    from storage.db import session_scope
    from storage.models import SourceFile

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(settings.sqlalchemy_url) as session:
            busy = session.scalar(
                select(func.count())
                .select_from(SourceFile)
                .where(
                    SourceFile.batch_id == batch_id,
                    SourceFile.status.in_(("processing", "assembling")),
                )
            )
        if not busy:
            return
        time.sleep(0.5)
    raise typer.Exit(code=3)


def _batch_entries(settings: Settings, batch_id: str,
                   answers: list[Answer]) -> tuple[BatchReport, list[dict[str, Any]]]:
    """Where every entry of a batch went: what was stored (storage.queries.batch_report)
    beside what was not (skipped, refused), in the order given."""
    from storage.db import session_scope
    from storage.queries import batch_report

    with session_scope(settings.sqlalchemy_url) as session:
        report = batch_report(session, batch_id)
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
    read as markup) and not kept (workers.intake.file_label)."""
    from schemas.reasons import REASONS
    from workers.intake import shown_name

    report, entries = _batch_entries(settings, batch_id, answers)
    if as_json:
        print(json.dumps({"batch": batch_id, "entries": entries}, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"Batch {batch_id[:8]}")
    for column in ("#", "file", "pages", "status", "受付番号 / reason"):
        table.add_column(column)
    for entry in entries:
        status = entry.get("status", entry["outcome"])
        status = "quarantined" if status == "rejected" else status
        notes = [REASONS[flag].split(" — ")[-1] for flag in entry["flags"]]
        where = "; ".join([", ".join(entry["receipts"]), *filter(None, [entry["reason"]]),
                           *notes]).strip("; ")
        table.add_row(str(entry["position"]), Text(shown_name(entry["file"])),
                      str(entry["pages"] or ""), status, Text(where))
    console.print(table)
    counted = Counter(entry["outcome"] for entry in entries)
    console.print(
        f"entries {len(entries)} (taken {counted['taken']}, quarantined "
        f"{counted['quarantined']}, refused {counted['refused']}, skipped "
        f"{counted['skipped']}) · pages {report.pages} "
        f"(blank {report.pages_blank}, unrecognised {report.pages_unknown}, "
        f"failed {report.pages_failed}) · documents {report.documents}\n"
        f"fields accepted {report.fields_accepted} · fields waiting for review "
        f"{report.fields_review} · time {seconds:.1f} s",
        highlight=False,
    )


@app.command()
def queue(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Documents waiting for verification (masked: no 個人番号, no full name)."""
    from sqlalchemy import select

    from storage.audit import append, checkpoint_if_due
    from storage.db import session_scope
    from storage.models import Document
    from storage.queries import waiting_queue
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "queue.read")
    with session_scope(settings.sqlalchemy_url) as session:
        lines = waiting_queue(session, vault_for(settings))
        receipts = [line.receipt_number for line in lines]
        listed = (
            session.scalars(select(Document.id).where(Document.receipt_number.in_(receipts))).all()
            if receipts
            else []
        )
        append(session, actor, "queue.list", listed, result="ok", detail={"documents": len(lines)})
    checkpoint_if_due(settings)
    if as_json:
        print(
            json.dumps(
                [
                    {**line.__dict__, "received_date": line.received_date.isoformat()}
                    for line in lines
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    table = Table(title=f"Verification queue: {len(lines)} documents")
    for column in ("受付番号", "received", "form", "name", "pages", "to review", "why", "status"):
        table.add_column(column)
    for line in lines:
        table.add_row(
            line.receipt_number,
            line.received_date.isoformat(),
            line.form_id or "?",
            line.name_masked,
            str(line.pages),
            f"{line.fields_review}/{line.fields_total}",
            ", ".join(f"{code}×{n}" if n > 1 else code for code, n in line.why.items()),
            line.status,
        )
    console.print(table)


@app.command()
def extract(
    paths: Annotated[list[Path], typer.Argument(help="Scans to read.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON contract.")] = False,
    engine: Annotated[str | None, typer.Option(help="Force one engine: ppocr | tesseract")] = None,
) -> None:
    """Read scans in process and print the fields; stores nothing, needs no service.
    Every file gets an entry, one that gives no document with its `error`; the exit status
    is 0 once the command ran (README: `kura extract`)."""
    from pipeline.errors import RejectedFile
    from pipeline.extract import extract_data, refusal
    from workers.intake import TurnedAway, shown_name

    documents = []
    for entry in _gather(paths):
        source = str(entry.path or entry.filename)
        if isinstance(entry, TurnedAway):
            documents.append(refusal(source, entry.code, entry.reason, outcome=entry.outcome))
            continue
        try:
            documents.extend(extract_data(source, entry.load(), engine))
        except RejectedFile as error:
            documents.append(refusal(source, error.code, error.message, outcome="refused"))
    if as_json:
        print(json.dumps({"documents": documents}, ensure_ascii=False, indent=1))
        return
    for document in documents:
        console.print(
            Text(shown_name(document["source"]), style="bold"),
            Text(f"pages {document['pages']} form {document['form']}"),
            Text(f"{document['error']['message']}") if "error" in document else "",
            highlight=False,
        )
        for name, field in document["fields"].items():
            console.print(Text(
                f"  {name:22} {field['status']:8} {field['confidence']:.2f} {field['value']}"
            ))


@forms_app.command("list")
def forms_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every form definition."""
    from schemas.forms import load_forms

    forms = load_forms()
    if as_json:
        print(json.dumps([f.contract() for f in forms.values()], ensure_ascii=False, indent=1))
        return
    for form in forms.values():
        console.print(f"{form.id:32} {form.kind:5} {len(form.fields):3} fields  {form.title}")


@forms_app.command("separator")
def forms_separator(out: Annotated[Path, typer.Option(help="PNG or PDF to print")]) -> None:
    """Write the separator sheet: put one between documents to start a new one."""
    from pipeline.separator import render_separator

    render_separator().save(out, dpi=(300, 300), resolution=300)
    console.print(f"wrote {out}")


@forms_app.command("blank")
def forms_blank(
    form_id: str, out: Annotated[Path, typer.Option(help="PNG, or PDF for several pages")]
) -> None:
    """Write the blank form at 300 dpi."""
    from pipeline.template import render_blank
    from schemas.forms import get_form

    form = get_form(form_id)
    pages = [render_blank(form, n) for n in range(1, form.pages + 1)]
    if out.suffix.lower() == ".pdf":
        pages[0].save(out, save_all=True, append_images=pages[1:], resolution=form.dpi)
    else:
        pages[0].save(out, dpi=(form.dpi, form.dpi))
    console.print(f"wrote {out}")


@forms_app.command("propose")
def forms_propose(
    blank: Annotated[Path, typer.Argument(help="A blank form: PDF, TIFF, PNG or JPEG.")],
    out: Annotated[Path, typer.Option(help="Where to write the draft YAML.")],
    form_id: Annotated[str, typer.Option("--id", help="The new form's id.")] = "draft",
    title: Annotated[str, typer.Option(help="The form's printed title.")] = "TODO",
) -> None:
    """Detect the boxes and digit cells of a blank form and write a draft definition."""
    from pipeline.errors import KuraError
    from pipeline.propose import propose_file

    if not blank.is_file():
        raise typer.BadParameter(f"{blank} does not exist", param_hint="BLANK")
    try:
        text, fields = propose_file(blank, form_id, title)
    except KuraError as error:
        console.print(f"cannot read {blank}: {error}")
        raise typer.Exit(code=2) from None
    out.write_text(text, encoding="utf-8")
    cells = sum(1 for f in fields if f.cells)
    todo = sum(1 for f in fields if f.note)
    console.print(f"wrote {out}: {len(fields)} fields ({cells} cell fields), {todo} marked TODO")


@app.command()
def original(
    receipt_number: str,
    out: Annotated[Path, typer.Option(help="Where to write the original file.")],
    reason: Annotated[
        str,
        typer.Option(
            help="Why the original is opened (recorded in the audit log as its purpose): a "
            "reason and case reference, never a name or number of the person."
        ),
    ],
) -> None:
    """Write a document's original scan, decrypted and checked against its SHA-256
    (records manager; every opening is recorded with its reason)."""
    from sqlalchemy import select

    from storage.audit import append, checkpoint_if_due
    from storage.db import session_scope
    from storage.models import Document, SourceFile, StoredObject
    from storage.runtime import vault_for

    if len(reason.strip()) < 4:
        raise typer.BadParameter("say why the original is opened", param_hint="--reason")
    settings = get_settings()
    actor = require(settings, "original.open")
    data: bytes | None = None
    failure: str | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        document = session.scalars(
            select(Document).where(Document.receipt_number == receipt_number)
        ).one_or_none()
        if document is None:
            append(
                session,
                actor,
                "original.open",
                purpose=reason.strip(),
                result="not_found",
                detail={"receipt_number": receipt_number},
            )
        else:
            source = session.get_one(SourceFile, document.source_file_id)
            opened = [document.id, source.id, source.object_id]
            try:
                data = vault_for(settings).get_object(
                    session.get_one(StoredObject, source.object_id)
                )
            except Exception as error:  # the attempt is recorded too, then reported
                failure = type(error).__name__
                append(
                    session,
                    actor,
                    "original.open",
                    opened,
                    purpose=reason.strip(),
                    result=f"failed:{failure}",
                )
            else:
                append(session, actor, "original.open", opened, purpose=reason.strip(), result="ok")
    checkpoint_if_due(settings)
    if failure:
        console.print(f"cannot open the original of {receipt_number}: {failure}")
        raise typer.Exit(code=1)
    if data is None:
        console.print(f"no document {receipt_number}")
        raise typer.Exit(code=1)
    out.write_bytes(data)
    console.print(f"wrote {out} ({len(data)} bytes, SHA-256 verified)")


@app.command()
def worker(concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2) -> None:
    """Start a Celery worker that reads pages (needs KURA_BROKER_URL)."""
    settings = get_settings()
    if not settings.uses_celery:
        console.print("KURA_BROKER_URL is not set: nothing to work for")
        raise typer.Exit(code=2)
    ready(settings)
    from workers.celery_app import app as celery_app

    celery_app.worker_main(
        [
            "worker",
            "--loglevel",
            settings.log_level,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
        ]
    )


@app.command()
def web(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the web rooms."""
    import uvicorn

    settings = get_settings()
    ready(settings)
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.web_host,
        port=port or settings.web_port,
    )


@app.command()
def demo(count: Annotated[int, typer.Option(help="How many sample scans.")] = 6) -> None:
    """Generate sample scans, take them in and read them, with nothing configured. Creates
    the demo accounts (one per duty, fresh passwords printed) and signs in as the clerk."""
    from kura.bench.synth.corpus import make_sample_scans
    from kura.cli_people import demo_people

    settings = get_settings()
    ready(settings)
    accounts = demo_people(settings)
    people = Table(title="Demo accounts (fresh passwords; `kura login NAME` to switch)")
    for column in ("user", "duty", "password"):
        people.add_column(column)
    for username, duties, password in accounts:
        people.add_row(username, duties, password)
    console.print(people)
    actor = require(settings, "intake")
    console.print(f"signed in as {actor.name}")
    samples = settings.data_dir / "samples" / time.strftime("%Y%m%d-%H%M%S")
    samples.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = make_sample_scans(samples, count, seed=int(time.time()))
    console.print(f"generated {len(files)} sample scans in {samples}")
    batch_id, answers = _ingest(settings, _gather(files), "cli", wait=True, actor=actor)
    _print_batch(settings, batch_id, time.perf_counter() - started, answers)
    console.print(
        f"data lives in {settings.data_dir} (database {settings.sqlalchemy_url}, "
        f"sealed objects in {settings.objects_dir}); `kura queue` lists the "
        "documents waiting for verification"
    )


def main() -> None:
    import logging

    from storage.logmask import configure, mask

    configure(get_settings().log_level, get_settings().log_json)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        # What reaches the user names the error, never a personal value; the traceback
        # goes to the (masked) log at DEBUG.
        logging.getLogger("kura").debug("command failed", exc_info=True)
        from rich.markup import escape

        Console(stderr=True).print(
            f"[bold red]error:[/] {type(error).__name__}: {escape(mask(str(error)))}",
            highlight=False,
        )
        sys.exit(1)
