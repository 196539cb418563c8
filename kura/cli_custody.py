"""Custody at the command line: `kura keys …`, `kura hold …`, `kura dispose …`,
`kura find`, `kura backup` and `kura restore`.

Each command parses, calls its use case in storage/usecases/ (keys.py, holds.py,
disposal.py, records.py, backup.py) and renders the result. The use case checks the duty,
acts and writes the audit entry — refused operations included: ids, counts and key ids,
never a personal value."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kura.calls import usecase
from kura.cli_people import token
from kura.tables import JSON_HELP, Column, fitted
from schemas.forms import form_name
from schemas.i18n import N_, _, ngettext
from schemas.settings import get_settings

if TYPE_CHECKING:
    from storage.usecases.disposal import Certificate

keys_app = typer.Typer(help=N_("Key-encryption keys: list, rotate, retire; blind-index rebuild."),
                       no_args_is_help=True)
hold_app = typer.Typer(help=N_("Legal holds on documents."), no_args_is_help=True)
dispose_app = typer.Typer(help=N_("Disposal by two people, with a certificate."),
                          no_args_is_help=True)
console = Console()


# --- kura keys ------------------------------------------------------------------------------


@keys_app.command("init")
def keys_init() -> None:
    """Make the keys of a new embedded installation in their own folder (KURA_KEY_DIR):
    the key-encryption key, the blind-index key and the audit key. Refused once anything
    exists: a lost key is restored from its backup, never replaced."""
    from storage.usecases import keys

    folder = keys.init_keys(get_settings())
    console.print(_("keys made in {folder} (owner only): back this folder up apart from the "
                    "data").format(folder=folder))


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
              ) -> None:
    """Every key by id (never the key): purpose, state, and what it still wraps."""
    from storage.usecases import keys

    lines = keys.list_keys(get_settings(), token)
    if as_json:
        print(json.dumps([line.__dict__ for line in lines], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("Id"), 8, identifier=True), Column(_("Purpose"), 8, 3),
               Column(_("State"), 6, 4), Column(_("Configured here"), 4, 2),
               Column(_("Objects"), 4, 1), Column(_("Documents"), 4, 0)]
    rows = [[line.id, _(line.purpose), _(line.state), _("yes") if line.available else _("no"),
             str(line.objects), str(line.documents)] for line in lines]
    console.print(fitted(console, _("Keys"), columns, rows))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under the current KEK (the data is not re-encrypted).

    Embedded default: makes a new key file and keeps the old one as a previous key.
    Configured: first put the new key in KURA_KEK and the old one in KURA_KEK_PREVIOUS on
    every service, then run this. Retire the old key afterwards with `kura keys retire`."""
    from storage.usecases import keys

    rotation = keys.rotate_keys(get_settings(), token)
    report, keyring = rotation.report, rotation.keyring
    console.print(_("re-wrapped {objects} object keys and {documents} document keys under KEK "
                    "{kek}").format(objects=report.objects, documents=report.documents,
                                    kek=report.kek_id))
    if not report.objects and not report.documents and not keyring.embedded:
        console.print(_("nothing was wrapped by another key: to rotate, set KURA_KEK to a new "
                        "key and move the old one to KURA_KEK_PREVIOUS, then run this again"))
    for kek in keyring.previous:
        console.print(_("previous KEK {kek}: retire it with `kura keys retire {kek}` once every "
                        "service runs with the new key").format(kek=kek.id))


@keys_app.command("retire")
def keys_retire(kek_id: str) -> None:
    """Retire a previous KEK; refused while any data key is still wrapped by it."""
    from storage.usecases import keys

    todo = keys.retire_key(get_settings(), token, kek_id)
    console.print(_("KEK {kek} retired").format(kek=kek_id))
    if todo:
        console.print(todo)


@keys_app.command("reindex")
def keys_reindex() -> None:
    """Rebuild every blind index with the configured index key (after changing it)."""
    from storage.usecases import keys

    done = keys.rebuild_indexes(get_settings(), token)
    console.print(_("{count} blind indexes written with index key {key}").format(
        count=done.indexes, key=done.index_key_id))


# --- kura find --------------------------------------------------------------------------------


def find(
    field: Annotated[str, typer.Argument(
        help=N_("basic_pension_number (基礎年金番号), my_number (個人番号), name_kana, "
        "birth_date"))],
    from_stdin: Annotated[bool, typer.Option(
        "--stdin", help=N_("Read the value from standard input (for scripts)."))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Exact-match search through the blind indexes; prints 受付番号 only. The value is typed
    unseen (or piped with --stdin), never given on the command line, where `ps` and the
    shell history would keep it."""
    records = usecase("records")

    field = records.searchable_field(field)
    value = (sys.stdin.readline().strip() if from_stdin
             else str(typer.prompt(field, hide_input=True)))
    found = records.find_records(get_settings(), token, field, value)
    if as_json:
        print(json.dumps([{"receipt_number": r.receipt_number, "status": r.status,
                           "form": r.form_id} for r in found], ensure_ascii=False))
        return
    for record in found:
        console.print(f"{record.receipt_number}  {_(record.status):10}  "
                      f"{form_name(record.form_id)}", highlight=False)
    console.print(ngettext("{count} found", "{count} found", len(found)).format(
        count=len(found)))


# --- kura hold -----------------------------------------------------------------------------------


@hold_app.command("set")
def hold_set(receipt_number: str,
             reason: Annotated[str, typer.Option(help=N_("Why (a case reference, no personal "
                                                      "values)."))]) -> None:
    """Put a document under legal hold: no disposal, and the store keeps its original."""
    holds = usecase("holds")

    holds.set_hold(get_settings(), token, receipt_number, reason)
    console.print(_("legal hold set on {receipt}").format(receipt=receipt_number))


@hold_app.command("release")
def hold_release(receipt_number: str,
                 reason: Annotated[str, typer.Option(help=N_("Why the hold ends."))]) -> None:
    """Release a document's legal hold."""
    holds = usecase("holds")

    holds.release_hold(get_settings(), token, receipt_number, reason)
    console.print(_("legal hold released on {receipt}").format(receipt=receipt_number))


@hold_app.command("list")
def hold_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
              ) -> None:
    """Documents under legal hold now."""
    holds = usecase("holds")

    held = holds.list_holds(get_settings(), token)
    if as_json:
        print(json.dumps([{**hold.__dict__, "set_at": hold.set_at.isoformat()} for hold in held],
                         ensure_ascii=False, indent=1))
        return
    for hold in held:
        console.print(_("{receipt}  held by {user} since {day}").format(
            receipt=hold.receipt_number, user=hold.set_by, day=f"{hold.set_at:%Y-%m-%d}"))
    console.print(ngettext("{count} held", "{count} held", len(held)).format(count=len(held)))


# --- kura dispose ----------------------------------------------------------------------------


@dispose_app.command("request")
def dispose_request(
    receipt_numbers: Annotated[list[str], typer.Argument(help=N_("受付番号 of the documents."))],
    reason: Annotated[str, typer.Option(help=N_("Why (e.g. end of the retention period)."))],
) -> None:
    """Ask for documents to be disposed of; a different person must approve."""
    disposal = usecase("disposal")

    request = disposal.request_disposal(get_settings(), token, receipt_numbers, reason)
    console.print(_("disposal request {number}: {documents} documents, waiting for a second "
                    "person's approval (`kura dispose approve`)").format(
                        number=request.number, documents=request.documents))


def _write_certificate(certificate: Certificate, folder: Path) -> tuple[Path, Path]:
    """The certificate as JSON (canonical: the bytes its SHA-256 is over) and as PDF."""
    from pipeline.render import certificate_pdf

    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{certificate.number}.json"
    json_path.write_text(certificate.text, encoding="utf-8")
    pdf_path = folder / f"{certificate.number}.pdf"
    pdf_path.write_bytes(certificate_pdf(certificate.content, certificate.sha256))
    return json_path, pdf_path


@dispose_app.command("approve")
def dispose_approve(
    number: str,
    out: Annotated[Path, typer.Option(help=N_("Folder for the certificate (JSON and PDF)."))],
) -> None:
    """Approve (as a second person) and carry out a disposal: destroy the data keys, remove
    the object versions the store lets go, write the certificate."""
    disposal = usecase("disposal")

    disposed = disposal.approve_disposal(get_settings(), token, number)
    certificate = disposed.certificate
    json_path, pdf_path = _write_certificate(certificate, out)
    objects = certificate.content["objects"]
    kept = [o for o in objects if not o["store_removed"]]
    console.print(_("disposed of {documents} documents ({objects} objects): data keys "
                    "destroyed").format(documents=len(certificate.content["documents"]),
                                        objects=len(objects)))
    if kept:
        console.print(_("{count} objects stay in the store until their retention ends "
                        "(unreadable: their keys are gone)").format(count=len(kept)))
    console.print(disposed.remnants)
    console.print(_("certificate {json} and {pdf} (SHA-256 {sha256})").format(
        json=json_path, pdf=pdf_path, sha256=certificate.sha256))


@dispose_app.command("reject")
def dispose_reject(number: str) -> None:
    """Turn a disposal request down."""
    disposal = usecase("disposal")

    disposal.reject_disposal(get_settings(), token, number)
    console.print(_("disposal request {number} rejected").format(number=number))


@dispose_app.command("list")
def dispose_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
                 ) -> None:
    """Disposal requests and what became of them."""
    disposal = usecase("disposal")

    lines = disposal.list_disposals(get_settings(), token)
    if as_json:
        print(json.dumps([{
            "number": r.number, "status": r.status, "requested_by": r.requested_by,
            "decided_by": r.decided_by, "documents": r.documents,
            "certificate_sha256": r.certificate_sha256,
        } for r in lines], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("Number"), 8, identifier=True), Column(_("Status"), 6, 4),
               Column(_("Requested by"), 6, 2), Column(_("Decided by"), 6, 1),
               Column(_("Documents"), 17, 3)]
    rows = [[r.number, _(r.status), r.requested_by, r.decided_by or "", "\n".join(r.documents)]
            for r in lines]
    console.print(fitted(console, _("Disposal requests"), columns, rows))


@dispose_app.command("certificate")
def dispose_certificate(
    number: str,
    out: Annotated[Path, typer.Option(help=N_("Folder for the certificate (JSON and PDF)."))],
) -> None:
    """Write a finished disposal's certificate again, from the copy kept in the database."""
    disposal = usecase("disposal")

    certificate = disposal.kept_certificate(get_settings(), token, number)
    json_path, pdf_path = _write_certificate(certificate, out)
    console.print(_("certificate {json} and {pdf} (SHA-256 {sha256})").format(
        json=json_path, pdf=pdf_path, sha256=certificate.sha256))


# --- kura backup / restore -----------------------------------------------------------------------


def backup(
    out: Annotated[Path, typer.Option(help=N_("The archive file to write (and FILE.sha256)."))],
) -> None:
    """Write an encrypted, checksummed archive of the whole installation (backup
    operator). The keys are not in it: keep them apart."""
    from storage.usecases import backup as backup_cases

    summary = backup_cases.make_backup(get_settings(), token, out)
    console.print(_("wrote {path} ({size} bytes): {rows} rows, {objects} objects\nSHA-256 "
                    "{sha256} (also in {path}.sha256)").format(
                        path=out, size=summary.size, rows=sum(summary.tables.values()),
                        objects=summary.objects, sha256=summary.sha256))


def restore(
    archive: Annotated[Path, typer.Argument(help=N_("An archive written by `kura backup`."))],
    username: Annotated[str, typer.Option(
        help=N_("A backup operator's user name in the archive: they sign in to confirm."))],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Restore an archive into this EMPTY installation (refused otherwise). The keys must be
    configured first: the KEK that wrapped the archive and the rows, and the same index and
    audit keys. A backup operator of the archived accounts signs in to confirm."""
    from storage.usecases import backup as backup_cases

    if not archive.is_file():
        raise typer.BadParameter(_("{path} does not exist").format(path=archive),
                                 param_hint="ARCHIVE")
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin
                else str(typer.prompt(_("password"), hide_input=True)))
    summary = backup_cases.restore_backup(get_settings(), archive, username, password)
    console.print(_("restored the backup of {created}: {rows} rows, {objects} objects").format(
        created=summary.created_at, rows=sum(summary.tables.values()), objects=summary.objects))
