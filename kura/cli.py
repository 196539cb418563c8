"""The `kura` command: the one entry point people type."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kura.bench.cli import bench_app
from kura.calls import usecase
from kura.cli_batch import batch_app
from kura.cli_custody import backup, dispose_app, find, hold_app, keys_app, restore
from kura.cli_intake import _gather, _ingest, _print_batch, doctor, quarantine_app, watch
from kura.cli_people import (
    audit_app,
    login,
    logout,
    token,
    users_app,
    whoami,
    write_private,
    write_session,
)
from kura.cli_register import register_app, shintatsu_app, totsugo_app
from kura.cli_verify import verify_app
from kura.help import SpeakingGroup, duty_names
from kura.tables import JSON_HELP, Column, fitted
from schemas.errors import ExitCode, KuraError, NotSignedIn, Unavailable
from schemas.forms import form_name
from schemas.i18n import N_, _, language, ngettext
from schemas.settings import get_settings

app = typer.Typer(
    help=N_("Kura (蔵): secure intake and OCR for national-pension paperwork."),
    cls=SpeakingGroup,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
forms_app = typer.Typer(help=N_("Form definitions (schemas/forms/*.yaml)."),
                        no_args_is_help=True)
db_app = typer.Typer(help=N_("The database."), no_args_is_help=True)
app.add_typer(forms_app, name="forms")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
app.add_typer(batch_app, name="batch")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(verify_app, name="verify")
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
app.add_typer(register_app, name="register")
app.add_typer(shintatsu_app, name="shintatsu")
app.add_typer(totsugo_app, name="totsugo")
console = Console()


DUTY_NEXT = (("intake", "kura ingest FOLDER"), ("users.read", "kura users list"),
             ("audit.read", "kura audit verify"), ("backup", "kura backup --out FILE"))
"""What each duty usually does next, after the documents and files that wait."""


@app.callback(invoke_without_command=True)
def standing(context: typer.Context) -> None:
    """Typed alone, `kura` says where this installation stands: who is signed in here, how
    many documents wait for verification and how many files are in quarantine, and the
    command to continue with."""
    if context.invoked_subcommand is not None:
        return
    from storage.usecases.standing import Standing

    try:
        now = usecase("standing").standing(get_settings(), token)
    except NotSignedIn:  # through the server, no session here: the server asks no more
        now = Standing(has_people=True)
    console.print(_("Kura (蔵): secure intake and OCR for national-pension paperwork."),
                  highlight=False)
    if not now.has_people:
        console.print(_("A new installation: it has no accounts yet."), highlight=False)
        nexts = ["kura users add NAME --role security_admin", "kura demo"]
    elif now.username is None:
        console.print(_("Nobody is signed in here."), highlight=False)
        nexts = ["kura login NAME"]
    else:

        console.print(_("Signed in as {user} ({duties}).").format(
            user=now.username, duties=duty_names(now.roles)),
            highlight=False)
        nexts = []
    if now.waiting is not None:
        console.print(ngettext("{count} document waits for verification.",
                               "{count} documents wait for verification.",
                               now.waiting).format(count=now.waiting), highlight=False)
        if now.waiting:
            nexts.append("kura queue")
    if now.quarantined is not None:
        console.print(ngettext("{count} file is in quarantine.",
                               "{count} files are in quarantine.",
                               now.quarantined).format(count=now.quarantined),
                      highlight=False)
        if now.quarantined:
            nexts.append("kura quarantine list")
    if now.username is not None:
        nexts += [command for permission, command in DUTY_NEXT if now.may(permission)]
    nexts = nexts or ["kura whoami"]
    console.print(_("To continue: {command}").format(command=nexts[0]), highlight=False)
    for command in nexts[1:]:
        console.print(_("or: {command}").format(command=command), highlight=False)
    console.print(_("Every command: kura --help"), highlight=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Run the database migrations up to the newest, then grant the application role
    (KURA_DB_APP_ROLE) what it may do."""
    from storage.db import grant_app_role, upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url, settings)
    if settings.db_app_role:
        grant_app_role(settings.sqlalchemy_url, settings.db_app_role)
        console.print(_("privileges of {role} brought up to date").format(
            role=settings.db_app_role))
    console.print(_("database is up to date"))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help=N_("Files or folders of scans."))],
    wait: Annotated[bool, typer.Option(help=N_("Wait until every page is read."))] = True,
    channel: Annotated[str, typer.Option(help=N_("cli | upload | hot_folder"))] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help=N_("Print every entry as JSON."))
                       ] = False,
) -> None:
    """Take scans in as one batch: seal the originals, open 受付 entries, read every page
    (scanning clerk). Every entry of a folder is answered: taken, quarantined (sealed, with
    the reason), refused (not stored: a symbolic link, not a regular file, too large) or
    skipped (hidden and temporary files)."""
    settings = get_settings()
    started = time.perf_counter()
    entries = _gather(paths)
    batch_id, answers = _ingest(settings, token, entries, channel, wait)
    _print_batch(settings, batch_id, time.perf_counter() - started, answers, as_json)


@app.command()
def queue(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Documents waiting for verification (masked: no 個人番号, no full name)."""
    verification_queue = usecase("records").verification_queue

    lines = verification_queue(get_settings(), token)
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
    from web.i18n import reason_words

    # at 80 columns the pages, the status and the masked name give way first
    columns = [Column(_("Receipt number"), 17, identifier=True), Column(_("Received"), 10, 4),
               Column(_("Form"), 14, 6), Column(_("Name"), 8, 2), Column(_("Pages"), 2, 0),
               Column(_("To review"), 5, 5), Column(_("Why"), 12, 3), Column(_("Status"), 6, 1)]
    rows = [[line.receipt_number, line.received_date.isoformat(), form_name(line.form_id),
             Text(line.name_masked), str(line.pages), f"{line.fields_review}/{line.fields_total}",
             Text(_(", ").join(
                 reason_words(code, language()) + (f"×{n}" if n > 1 else "")
                 for code, n in line.why.items())),
             _(line.status)] for line in lines]
    title = ngettext("Verification queue: {count} document",
                     "Verification queue: {count} documents", len(lines)).format(
                         count=len(lines))
    console.print(fitted(console, title, columns, rows))



@app.command()
def extract(
    paths: Annotated[list[Path], typer.Argument(help=N_("Scans to read."))],
    as_json: Annotated[bool, typer.Option("--json", help=N_("Print the JSON contract."))
                       ] = False,
    engine: Annotated[str | None, typer.Option(
        help=N_("Force one engine: ppocr | tesseract"))] = None,
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
            Text(_("pages {pages} form {form}").format(pages=document["pages"],
                                                       form=form_name(document["form"]))),
            Text(f"{document['error']['message']}") if "error" in document else "",
            highlight=False,
        )
        for name, field in document["fields"].items():
            console.print(Text(
                f"  {name:22} {field['status']:8} {field['confidence']:.2f} {field['value']}"
            ))


@forms_app.command("list")
def forms_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
               ) -> None:
    """Every form definition."""
    from schemas.forms import load_forms

    forms = load_forms()
    if as_json:
        print(json.dumps([f.contract() for f in forms.values()], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("Form"), 14, 5), Column(_("Id"), 26, 4, identifier=True),
               Column(_("Kind"), 6, 1), Column(_("Fields"), 6, 2), Column(_("Title"), 16, 3)]
    rows = [[form.short_title, form.id, _(form.kind), str(len(form.fields) or len(
        form.columns or [])), form.title] for form in forms.values()]
    console.print(fitted(console, _("Forms"), columns, rows))


@forms_app.command("separator")
def forms_separator(out: Annotated[Path, typer.Option(help=N_("PNG or PDF to print"))]
                    ) -> None:
    """Write the separator sheet: put one between documents to start a new one."""
    from pipeline.separator import render_separator

    render_separator().save(out, dpi=(300, 300), resolution=300)
    console.print(_("wrote {path}").format(path=out))


@forms_app.command("blank")
def forms_blank(
    form_id: Annotated[str, typer.Argument(help=N_("The form's id (kura forms list)."))],
    out: Annotated[Path, typer.Option(help=N_("PNG, or PDF for several pages"))],
) -> None:
    """Write the blank form at 300 dpi."""
    from pipeline.template import render_blank
    from schemas.forms import get_form

    form = get_form(form_id)
    if form.kind == "table":
        console.print(_("{form} is a printed list (kind: table): it has no blank form")
                      .format(form=form_id))
        raise typer.Exit(code=2)
    pages = [render_blank(form, n) for n in range(1, form.pages + 1)]
    if out.suffix.lower() == ".pdf":
        pages[0].save(out, save_all=True, append_images=pages[1:], resolution=form.dpi)
    else:
        pages[0].save(out, dpi=(form.dpi, form.dpi))
    console.print(_("wrote {path}").format(path=out))


@forms_app.command("propose")
def forms_propose(
    blank: Annotated[Path, typer.Argument(help=N_("A blank form: PDF, TIFF, PNG or JPEG."))],
    out: Annotated[Path, typer.Option(help=N_("Where to write the draft YAML."))],
    form_id: Annotated[str, typer.Option("--id", help=N_("The new form's id."))] = "draft",
    title: Annotated[str, typer.Option(help=N_("The form's printed title."))] = "TODO",
    png: Annotated[Path | None, typer.Option(
        help=N_("Also draw the draft over the blank's first page here."))] = None,
) -> None:
    """Detect the boxes and digit cells of a blank form, read their printed captions, and
    write a draft definition (names, labels and types proposed from the captions)."""
    from pipeline.propose import propose_file

    if not blank.is_file():
        raise typer.BadParameter(_("{path} does not exist").format(path=blank),
                                 param_hint="BLANK")
    text, fields = propose_file(blank, form_id, title)
    out.write_text(text, encoding="utf-8")
    from pipeline.propose import reference_blanks
    from pipeline.template import reference_blank

    kept = []
    for number, image in enumerate(reference_blanks(blank.read_bytes()), 1):
        path = out.parent / reference_blank(form_id, number).name
        path.write_bytes(image)
        kept.append(path.name)
    if png is not None:
        from pipeline.propose import draw_draft

        png.write_bytes(draw_draft(blank.read_bytes(), fields))
    cells = sum(1 for f in fields if f.cells)
    todo = sum(1 for f in fields if f.note)
    console.print(_("wrote {path}: {fields} fields ({cells} cell fields), {todo} marked TODO")
                  .format(path=out, fields=len(fields), cells=cells, todo=todo))
    console.print(
        _("and the blank as scans are aligned to it: {files} (keep it beside the definition)")
        .format(files=", ".join(kept))
    )


@app.command()
def original(
    receipt_number: Annotated[str, typer.Argument(help=N_("The document's 受付番号."))],
    out: Annotated[Path, typer.Option(help=N_("Where to write the original (an encrypted ZIP)."))],
    reason: Annotated[
        str,
        typer.Option(
            help=N_("Why the original is opened (recorded in the audit log as its purpose): a "
                    "reason and case reference, never a name or number of the person.")
        ),
    ],
    plain: Annotated[str | None, typer.Option(
        "--plain", help=N_("Write the file as it is, unencrypted: takes the download "
                           "permission; say why (recorded)."))] = None,
) -> None:
    """Write a document's original scan, checked against its SHA-256, inside an AES-256
    encrypted ZIP whose password is shown once (records manager; every opening is recorded
    with its reason)."""
    from pipeline.ingest import sniff_media_type
    from pipeline.transmittal import encrypted_zip, generate_password
    open_original = usecase("records").open_original

    opened = open_original(get_settings(), token, receipt_number, reason, plain)
    if plain is not None:
        write_private(out, opened.data)
        console.print(_("wrote {path} ({size} bytes, SHA-256 verified, unencrypted)").format(
            path=out, size=len(opened.data)))
        return
    suffix = SUFFIXES.get(sniff_media_type(opened.data), "")
    password = generate_password()
    write_private(out, encrypted_zip({f"{receipt_number}{suffix}": opened.data}, password))
    console.print(_("wrote {path}: the original ({size} bytes, SHA-256 verified) in a ZIP "
                    "encrypted with AES-256").format(path=out, size=len(opened.data)))
    console.print(_("its password, shown this once: {password}").format(password=password))


SUFFIXES = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
            "image/tiff": ".tif"}


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help=N_("Worker processes."))] = 2,
    beat: Annotated[bool, typer.Option(
        help=N_("Also run the sweeper every KURA_SWEEP_EVERY_S (one worker of the fabric)."))
    ] = False,
) -> None:
    """Start a Celery worker that reads pages (needs KURA_BROKER_URL)."""
    settings = get_settings()
    if not settings.uses_celery:
        raise Unavailable(_("KURA_BROKER_URL is not set: nothing to work for"))
    from storage.usecases.base import ready

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
            *(["--beat"] if beat else []),
        ]
    )


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help=N_("Address to listen on (KURA_WEB_HOST)."))
                    ] = None,
    port: Annotated[int | None, typer.Option(help=N_("Port to listen on (KURA_WEB_PORT)."))
                    ] = None,
) -> None:
    """Serve the web rooms."""
    import uvicorn

    settings = get_settings()
    from storage.usecases.base import ready

    ready(settings)
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.web_host,
        port=port or settings.web_port,
    )


@app.command()
def demo(count: Annotated[int, typer.Option(help=N_("How many sample scans."))] = 6) -> None:
    """Generate sample scans, take them in and read them, with nothing configured. Creates
    the demo accounts (one per duty, fresh passwords printed) and signs in as the clerk."""
    import getpass

    from kura.bench.synth.corpus import make_sample_scans
    from storage.usecases.people import demo_people

    settings = get_settings()
    demo = demo_people(settings, getpass.getuser())
    write_session(settings, demo.clerk)
    people = Table(title=_("Demo accounts (fresh passwords; `kura login NAME` to switch)"))
    for column in (_("User"), _("Duty"), _("Password")):
        people.add_column(column, no_wrap=True)
    for username, duties, password in demo.accounts:
        people.add_row(username, duty_names(duties.split(", ")), password)
    console.print(people)
    console.print(_("signed in as {user}").format(user=demo.clerk.username))
    samples = settings.data_dir / "samples" / time.strftime("%Y%m%d-%H%M%S")
    samples.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = make_sample_scans(samples, count, seed=int(time.time()))
    console.print(_("generated {count} sample scans in {folder}").format(count=len(files),
                                                                         folder=samples))
    batch_id, answers = _ingest(settings, demo.clerk.token, _gather(files), "cli", wait=True)
    _print_batch(settings, batch_id, time.perf_counter() - started, answers)
    console.print(_(
        "data lives in {data} (database {database}, sealed objects in {objects}); "
        "`kura queue` lists the documents waiting for verification").format(
            data=settings.data_dir, database=settings.sqlalchemy_url,
            objects=settings.objects_dir))


def main() -> None:
    import logging

    from pydantic import ValidationError

    from kura.usage_errors import settings_problems
    from storage.logmask import configure, mask
    from storage.runtime import keep_private

    try:
        settings = get_settings()
    except ValidationError as error:
        for where, problem in settings_problems(error):
            Console(stderr=True).print(Text(_("✗ settings: {where}: {problem}").format(
                where=where, problem=problem)))
        sys.exit(int(ExitCode.bad_input))
    configure(settings.log_level, settings.log_json)
    keep_private(settings)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except KuraError as error:
        # The one place an error becomes what a person reads and the exit status: its
        # message (masked: never a personal value), its hint, and its exit code.
        from rich.markup import escape

        label = _("refused") if error.exit_code == ExitCode.refused else _("error")
        hint = f"\n{escape(mask(error.hint))}" if error.hint else ""
        Console(stderr=True).print(
            f"[bold red]{label}:[/] {escape(mask(error.message))}{hint}", highlight=False
        )
        sys.exit(int(error.exit_code))
    except Exception as error:
        # What reaches the user names the error, never a personal value; the traceback
        # goes to the (masked) log at DEBUG.
        logging.getLogger("kura").debug("command failed", exc_info=True)
        from rich.markup import escape

        Console(stderr=True).print(
            f"[bold red]{_('error')}:[/] {type(error).__name__}: {escape(mask(str(error)))}",
            highlight=False,
        )
        sys.exit(1)
