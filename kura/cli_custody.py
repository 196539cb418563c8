"""Custody at the command line: `kura keys …`, `kura hold …`, `kura dispose …`,
`kura find`, `kura backup` and `kura restore` (storage/custody.py, storage/backup.py).

Every command runs as the signed-in person under the duty it needs (`require`), and every
operation, refused ones included, is an entry in the audit chain: ids, counts and key ids,
never a personal value."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kura.cli_people import EXIT_REFUSED, require
from schemas.settings import Settings, get_settings
from storage.audit import Actor

keys_app = typer.Typer(help="Key-encryption keys: list, rotate, retire; blind-index rebuild.",
                       no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds on documents.", no_args_is_help=True)
dispose_app = typer.Typer(help="Disposal by two people, with a certificate.",
                          no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _after(settings: Settings) -> None:
    from storage.audit import checkpoint_if_due

    checkpoint_if_due(settings)


def _refused(settings: Settings, actor: Actor, action: str, error: Exception,
             object_ids: list[str] | None = None) -> typer.Exit:
    """Record a refusal in its own transaction (the refused one was rolled back)."""
    from storage.audit import append
    from storage.db import session_scope

    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, action, object_ids or [],
               result=f"refused:{type(error).__name__}")
    _after(settings)
    err.print(f"[bold red]refused:[/] {error}")
    return typer.Exit(code=EXIT_REFUSED)


# --- kura keys ------------------------------------------------------------------------------


@keys_app.command("list")
def keys_list() -> None:
    """Every key by id (never the key): purpose, state, and what it still wraps."""
    from storage.audit import append
    from storage.custody import key_listing, load_indexer, load_keyring
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "keys.manage")
    keyring = load_keyring(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        lines = key_listing(session, keyring, load_indexer(settings, keyring))
        append(session, actor, "keys.list", result="ok", detail={"keys": len(lines)})
    _after(settings)
    table = Table(title="Keys")
    for column in ("id", "purpose", "state", "configured here", "objects", "documents"):
        table.add_column(column)
    for line in lines:
        table.add_row(line.id, line.purpose, line.state, "yes" if line.available else "no",
                      str(line.objects), str(line.documents))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under the current KEK (the data is not re-encrypted).

    Embedded default: makes a new key file and keeps the old one as a previous key.
    Configured: first put the new key in KURA_KEK and the old one in KURA_KEK_PREVIOUS on
    every service, then run this. Retire the old key afterwards with `kura keys retire`."""
    from storage.audit import append
    from storage.custody import CustodyError, load_keyring, new_embedded_kek, rotate_keys
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "keys.manage")
    keyring = load_keyring(settings)
    if keyring.embedded:
        keyring = new_embedded_kek(settings)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            report = rotate_keys(session, keyring)
            append(session, actor, "keys.rotate", [report.kek_id], result="ok",
                   detail={"objects": report.objects, "documents": report.documents,
                           "from": report.from_keks})
    except CustodyError as error:
        raise _refused(settings, actor, "keys.rotate", error) from None
    _after(settings)
    console.print(f"re-wrapped {report.objects} object keys and {report.documents} document "
                  f"keys under KEK {report.kek_id}")
    if not report.objects and not report.documents and not keyring.embedded:
        console.print("nothing was wrapped by another key: to rotate, set KURA_KEK to a new "
                      "key and move the old one to KURA_KEK_PREVIOUS, then run this again")
    for kek in keyring.previous:
        console.print(f"previous KEK {kek.id}: retire it with `kura keys retire {kek.id}` "
                      "once every service runs with the new key")


@keys_app.command("retire")
def keys_retire(kek_id: str) -> None:
    """Retire a previous KEK; refused while any data key is still wrapped by it."""
    from storage.audit import append
    from storage.custody import CustodyError, load_keyring, retire_key
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "keys.manage")
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            todo = retire_key(session, settings, load_keyring(settings), kek_id, actor.name)
            append(session, actor, "keys.retire", [kek_id], result="ok")
    except CustodyError as error:
        raise _refused(settings, actor, "keys.retire", error, [kek_id]) from None
    _after(settings)
    console.print(f"KEK {kek_id} retired")
    if todo:
        console.print(todo)


@keys_app.command("reindex")
def keys_reindex() -> None:
    """Rebuild every blind index with the configured index key (after changing it)."""
    from storage.audit import append
    from storage.custody import reindex_all
    from storage.db import session_scope
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "keys.manage")
    vault = vault_for(settings)
    assert vault.indexer is not None
    with session_scope(settings.sqlalchemy_url) as session:
        count = reindex_all(session, vault, vault.indexer)
        append(session, actor, "keys.reindex", [vault.indexer.id], result="ok",
               detail={"indexes": count})
    _after(settings)
    console.print(f"{count} blind indexes written with index key {vault.indexer.id}")


# --- kura find --------------------------------------------------------------------------------


def find(
    field: Annotated[str, typer.Argument(
        help="basic_pension_number (基礎年金番号), my_number (個人番号), name_kana, "
        "birth_date")],
    value: Annotated[str | None, typer.Argument(
        help="The exact value; leave out to type it unseen.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Exact-match search through the blind indexes; prints 受付番号 only."""
    import json

    from storage.audit import append
    from storage.custody import CustodyError, find_documents, index_field
    from storage.db import session_scope
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "record.read")
    try:
        field = index_field(field)
    except CustodyError as error:
        raise typer.BadParameter(str(error), param_hint="FIELD") from None
    if value is None:
        value = str(typer.prompt(field, hide_input=True))
    vault = vault_for(settings)
    assert vault.indexer is not None
    with session_scope(settings.sqlalchemy_url) as session:
        found = find_documents(session, vault.indexer, field, value)
        lines = [(d.receipt_number, d.status, d.form_id or "") for d in found]
        append(session, actor, "record.search", [d.id for d in found], result="ok",
               detail={"field": field, "found": len(found)})
    _after(settings)
    if as_json:
        print(json.dumps([{"receipt_number": r, "status": s, "form": f} for r, s, f in lines],
                         ensure_ascii=False))
        return
    for receipt, status, form in lines:
        console.print(f"{receipt}  {status:10}  {form}")
    console.print(f"{len(lines)} found")


# --- kura hold -----------------------------------------------------------------------------------


def _hold(receipt_number: str, reason: str, release: bool) -> None:
    from storage.audit import append
    from storage.custody import CustodyError, document_by_receipt, release_hold, set_hold
    from storage.db import session_scope
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "retention.manage")
    action = "hold.release" if release else "hold.set"
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            document = document_by_receipt(session, receipt_number)
            vault = vault_for(settings)
            if release:
                release_hold(session, vault, document, reason, actor.name)
            else:
                set_hold(session, vault, document, reason, actor.name)
            append(session, actor, action, [document.id, document.source_file_id],
                   purpose=reason.strip(), result="ok")
    except CustodyError as error:
        raise _refused(settings, actor, action, error) from None
    _after(settings)
    console.print(f"legal hold {'released on' if release else 'set on'} {receipt_number}")


@hold_app.command("set")
def hold_set(receipt_number: str,
             reason: Annotated[str, typer.Option(help="Why (a case reference, no personal "
                                                      "values).")]) -> None:
    """Put a document under legal hold: no disposal, and the store keeps its original."""
    _hold(receipt_number, reason, release=False)


@hold_app.command("release")
def hold_release(receipt_number: str,
                 reason: Annotated[str, typer.Option(help="Why the hold ends.")]) -> None:
    """Release a document's legal hold."""
    _hold(receipt_number, reason, release=True)


@hold_app.command("list")
def hold_list() -> None:
    """Documents under legal hold now."""
    from sqlalchemy import select

    from storage.audit import append
    from storage.db import session_scope
    from storage.models import Document, LegalHold

    settings = get_settings()
    actor = require(settings, "retention.manage")
    with session_scope(settings.sqlalchemy_url) as session:
        rows = session.execute(
            select(Document.receipt_number, LegalHold.set_by, LegalHold.set_at, Document.id)
            .join(LegalHold, LegalHold.document_id == Document.id)
            .where(LegalHold.released_at.is_(None)).order_by(Document.receipt_number)).all()
        append(session, actor, "hold.list", [r[3] for r in rows], result="ok")
    _after(settings)
    for receipt, by, at, _id in rows:
        console.print(f"{receipt}  held by {by} since {at:%Y-%m-%d}")
    console.print(f"{len(rows)} held")


# --- kura dispose ----------------------------------------------------------------------------


@dispose_app.command("request")
def dispose_request(
    receipt_numbers: Annotated[list[str], typer.Argument(help="受付番号 of the documents.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. end of the retention period).")],
) -> None:
    """Ask for documents to be disposed of; a different person must approve."""
    from storage.audit import append
    from storage.custody import CustodyError, request_disposal
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "disposal.request")
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            request = request_disposal(session, receipt_numbers, reason, actor.name)
            number, ids = request.number, [request.id, *(i.document_id for i in request.items)]
            append(session, actor, "disposal.request", ids, purpose=reason.strip(),
                   result="ok", detail={"number": number, "documents": len(ids) - 1})
    except CustodyError as error:
        raise _refused(settings, actor, "disposal.request", error) from None
    _after(settings)
    console.print(f"disposal request {number}: {len(ids) - 1} documents, waiting for a second "
                  "person's approval (`kura dispose approve`)")


@dispose_app.command("approve")
def dispose_approve(
    number: str,
    out: Annotated[Path, typer.Option(help="Folder for the certificate (JSON and PDF).")],
) -> None:
    """Approve (as a second person) and carry out a disposal: destroy the data keys, remove
    the object versions the store lets go, write the certificate."""
    from storage.audit import append
    from storage.custody import (
        CustodyError,
        approve_disposal,
        canonical_json,
        purge_remnants,
        write_certificate,
    )
    from storage.db import session_scope
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "disposal.approve")
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            certificate = approve_disposal(session, vault_for(settings), number, actor.name)
            digest = _sha256_text(canonical_json(certificate))
            ids = [d["document_id"] for d in certificate["documents"]] + \
                  [o["object_id"] for o in certificate["objects"]]
            append(session, actor, "disposal.approve", ids, result="ok",
                   detail={"number": number, "certificate_sha256": digest,
                           "documents": len(certificate["documents"]),
                           "objects": len(certificate["objects"])})
    except CustodyError as error:
        raise _refused(settings, actor, "disposal.approve", error) from None
    with session_scope(settings.sqlalchemy_url) as session:
        note = purge_remnants(session)
    _after(settings)
    json_path, pdf_path = write_certificate(certificate, out)
    kept = [o for o in certificate["objects"] if not o["store_removed"]]
    console.print(f"disposed of {len(certificate['documents'])} documents "
                  f"({len(certificate['objects'])} objects): data keys destroyed")
    if kept:
        console.print(f"{len(kept)} objects stay in the store until their retention ends "
                      "(unreadable: their keys are gone)")
    console.print(note)
    console.print(f"certificate {json_path} and {pdf_path} (SHA-256 {digest})")


@dispose_app.command("reject")
def dispose_reject(number: str) -> None:
    """Turn a disposal request down."""
    from storage.audit import append
    from storage.custody import CustodyError, reject_disposal
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "disposal.approve")
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            request = reject_disposal(session, number, actor.name)
            append(session, actor, "disposal.reject", [request.id], result="ok",
                   detail={"number": number})
    except CustodyError as error:
        raise _refused(settings, actor, "disposal.reject", error) from None
    _after(settings)
    console.print(f"disposal request {number} rejected")


@dispose_app.command("list")
def dispose_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Disposal requests and what became of them."""
    import json

    from storage.audit import append
    from storage.custody import disposal_lines
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "disposal.approve")
    with session_scope(settings.sqlalchemy_url) as session:
        rows: list[dict[str, Any]] = [{
            "number": r.number, "status": r.status, "requested_by": r.requested_by,
            "decided_by": r.decided_by, "documents": [i.receipt_number for i in r.items],
            "certificate_sha256": r.certificate_sha256,
        } for r in disposal_lines(session)]
        append(session, actor, "disposal.list", result="ok", detail={"requests": len(rows)})
    _after(settings)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(title="Disposal requests")
    for column in ("number", "status", "requested by", "decided by", "documents"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["number"], row["status"], row["requested_by"],
                      row["decided_by"] or "", ", ".join(row["documents"]))
    console.print(table)


@dispose_app.command("certificate")
def dispose_certificate(
    number: str,
    out: Annotated[Path, typer.Option(help="Folder for the certificate (JSON and PDF).")],
) -> None:
    """Write a finished disposal's certificate again, from the copy kept in the database."""
    import json

    from storage.audit import append
    from storage.custody import CustodyError, disposal_by_number, write_certificate
    from storage.db import session_scope

    settings = get_settings()
    actor = require(settings, "disposal.approve")
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            request = disposal_by_number(session, number)
            if request.certificate is None:
                raise CustodyError(f"{number} is {request.status}: it has no certificate")
            certificate, digest = json.loads(request.certificate), request.certificate_sha256
            append(session, actor, "disposal.certificate", [request.id], result="ok")
    except CustodyError as error:
        raise _refused(settings, actor, "disposal.certificate", error) from None
    _after(settings)
    json_path, pdf_path = write_certificate(certificate, out)
    if _sha256_text(json_path.read_text(encoding="utf-8")) != digest:
        err.print("[bold red]the kept certificate does not match its recorded SHA-256[/]")
        raise typer.Exit(code=1)
    console.print(f"certificate {json_path} and {pdf_path} (SHA-256 {digest})")


def _sha256_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


# --- kura backup / restore -----------------------------------------------------------------------


def backup(
    out: Annotated[Path, typer.Option(help="The archive file to write (and FILE.sha256).")],
) -> None:
    """Write an encrypted, checksummed archive of the whole installation (backup
    operator). The keys are not in it: keep them apart."""
    from storage.audit import append, checkpoint_store
    from storage.backup import backup as write_backup
    from storage.db import session_scope
    from storage.runtime import vault_for

    settings = get_settings()
    actor = require(settings, "backup")
    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new name", param_hint="--out")
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, "backup.start", result="ok")
    summary = write_backup(settings.sqlalchemy_url, vault_for(settings), out,
                           checkpoint_store(settings))
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, "backup", result="ok",
               detail={"sha256": summary.sha256, "size": summary.size,
                       "rows": sum(summary.tables.values()), "objects": summary.objects})
    _after(settings)
    console.print(f"wrote {out} ({summary.size} bytes): {sum(summary.tables.values())} rows, "
                  f"{summary.objects} objects\nSHA-256 {summary.sha256} (also in {out}.sha256)")


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `kura backup`.")],
    username: Annotated[str, typer.Option(
        help="A backup operator's user name in the archive: they sign in to confirm.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Restore an archive into this EMPTY installation (refused otherwise). The keys must be
    configured first: the KEK that wrapped the archive and the rows, and the same index and
    audit keys. A backup operator of the archived accounts signs in to confirm."""
    from storage.accounts import NotAllowed, SignInRefused, duty_for, find, sign_in
    from storage.audit import append, checkpoint_store
    from storage.backup import BackupError
    from storage.backup import restore as run_restore
    from storage.runtime import vault_for

    settings = get_settings()
    if not archive.is_file():
        raise typer.BadParameter(f"{archive} does not exist", param_hint="ARCHIVE")
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin
                else str(typer.prompt("password", hide_input=True)))

    def confirm(session: Any) -> None:
        signed = sign_in(session, username, password, 1)
        person = find(session, signed.username)
        assert person is not None
        actor = Actor(person.username, duty_for(person, "restore"))
        append(session, actor, "restore", result="ok",
               detail={"archive_sha256": _file_sha256(archive)})

    try:
        summary = run_restore(settings.sqlalchemy_url, vault_for(settings), archive, confirm,
                              checkpoint_store(settings))
    except (BackupError, SignInRefused, NotAllowed) as error:
        err.print(f"[bold red]refused:[/] {error}")
        raise typer.Exit(code=EXIT_REFUSED) from None
    _after(settings)
    console.print(f"restored the backup of {summary.created_at}: "
                  f"{sum(summary.tables.values())} rows, {summary.objects} objects")


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
