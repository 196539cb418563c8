"""`kura verify …`: the verification station at the command line, on the same use cases as
the rooms (storage/usecases/verification/). Values are shown masked (first character only)
unless one field is asked for with --field; a new or keyed value is typed at a prompt or
read from standard input, never given as an argument (arguments land in shell history and
in the process list)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kura.cli_people import token
from schemas.i18n import N_, _, language
from schemas.settings import get_settings

if TYPE_CHECKING:
    from storage.usecases.verification import DocumentView, FieldView

verify_app = typer.Typer(help=_("Verification: correct what the machine read; a second "
                                 "person confirms."), no_args_is_help=True)
console = Console()

STATES = {
    "accepted": N_("accepted as read"),
    "review": N_("to review"),
    "pending": N_("waiting for a checker"),
    "confirmed": N_("confirmed by a second person"),
    "keying": N_("keyed once (blind)"),
    "disputed": N_("keyed differently: a third person types it"),
    "ready": N_("ready for verification"),
    "in_verification": N_("in verification"),
    "investigation": N_("under investigation (疑義)"),
    "verified": N_("verified (every field settled)"),
    "rescan": N_("back to the scanning desk"),
}
"""The words for the states of a field and of a document (codes in the database)."""

Receipt = Annotated[str, typer.Argument(help=_("The 受付番号 of the document."))]
FieldName = Annotated[str, typer.Argument(help=_("The field's name (see `kura verify show`)."))]
FromStdin = Annotated[bool, typer.Option(
    "--value-stdin", help=_("Read the value from standard input instead of a prompt."))]


def _state(code: str) -> str:
    return _(STATES[code]) if code in STATES else code


def _masked(value: str | None) -> str:
    """Only the first character shows, enough to tell fields apart on a shared screen."""
    from storage.queries import mask_name

    if value is None:
        return _("(keyed blind)")
    return mask_name(value) if value else _("(empty)")


def _reasons(field: FieldView) -> str:
    from web.i18n import reason_words

    return "; ".join(reason_words(reason, language()) for reason in field.reasons)


def _typed(prompt: str, from_stdin: bool, hidden: bool = False) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(prompt, default="", show_default=False, hide_input=hidden))


def _print_document(view: DocumentView, reveal: str = "", as_json: bool = False) -> None:
    if as_json:
        print(json.dumps({
            "receipt_number": view.receipt_number, "status": view.status,
            "form_id": view.form_id, "verified_by": view.verified_by,
            "confirmed_by": view.confirmed_by,
            "fields": [{"name": f.name, "status": f.status, "reasons": f.reasons,
                        "value": f.value if f.name == reveal else _masked(f.value),
                        "proposed": (f.proposed if f.name == reveal or f.proposed is None
                                     else _masked(f.proposed)),
                        "proposed_by": f.proposed_by} for f in view.fields]},
            ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{view.receipt_number} {view.form_title} · {_state(view.status)}")
    for column in (_("field label"), _("field name"), _("field state"), _("current value"),
                   _("change waiting"), _("why it waits")):
        table.add_column(column)
    for f in view.fields:
        shown = f.name == reveal
        proposed = "" if f.status != "pending" else (
            f"{f.proposed if shown else _masked(f.proposed)} ({f.proposed_by})")
        table.add_row(f.label, f.name, _state(f.status),
                      (f.value or "") if shown and f.value is not None else _masked(f.value),
                      proposed, _reasons(f))
    console.print(table)
    if view.verified_by or view.confirmed_by:
        console.print(_("Verified by {verifiers} · confirmed by {checkers}").format(
            verifiers=", ".join(view.verified_by) or "-",
            checkers=", ".join(view.confirmed_by) or "-"))


def _field_now(receipt: str, field: str, state: str) -> None:
    console.print(_("{field} of {receipt}: {state}").format(
        field=field, receipt=receipt, state=_state(state)))


@verify_app.command("next", help=_(
    "The oldest document waiting for verification, shown masked."))
def verify_next(
    form: Annotated[str, typer.Option(help=_("Only this form (its id)."))] = "",
    reason: Annotated[str, typer.Option(help=_("Only documents with this reason code."))] = "",
) -> None:
    from storage.usecases import verification as v

    settings = get_settings()
    lines = v.queue(settings, token, form, reason)
    if not lines:
        console.print(_("Nothing waits for verification."))
        return
    console.print(_("{count} documents wait; the next is {receipt}").format(
        count=len(lines), receipt=lines[0].receipt_number))
    _print_document(v.open_document(settings, token, lines[0].receipt_number))


@verify_app.command("show", help=_(
    "A document's fields: state, masked value, the change waiting for a checker, and why "
    "each field waits, those for review first."))
def verify_show(
    receipt: Receipt,
    field: Annotated[str, typer.Option(
        "--field", help=_("Show this field's value in full (the one you work on)."))] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    from storage.usecases import verification as v

    _print_document(v.open_document(get_settings(), token, receipt), field, as_json)


@verify_app.command("accept", help=_(
    "Take a flagged field's reading as it is (a checker confirms it)."))
def verify_accept(receipt: Receipt, field: FieldName) -> None:
    from storage.usecases import verification as v

    state = v.accept(get_settings(), token, receipt, field)
    _field_now(receipt, field, state)


@verify_app.command("correct", help=_(
    "Type a field's right value (empty: delete it); a checker confirms it."))
def verify_correct(
    receipt: Receipt, field: FieldName,
    reason: Annotated[str, typer.Option(help=_(
        "Why: misread, wrong_on_paper, confirmed_by_phone or other."))] = "misread",
    note: Annotated[str, typer.Option(help=_("A note for the checker."))] = "",
    value_stdin: FromStdin = False,
) -> None:
    from storage.usecases import verification as v

    value = _typed(_("new value (empty deletes it)"), value_stdin)
    state = v.correct(get_settings(), token, receipt, field, value, reason, note)
    _field_now(receipt, field, state)


@verify_app.command("key", help=_(
    "Type a flagged 個人番号 or 基礎年金番号 blind, as written on the form: two people type "
    "it without seeing the reading or each other's entry."))
def verify_key(receipt: Receipt, field: FieldName, value_stdin: FromStdin = False) -> None:
    from storage.usecases import verification as v

    value = _typed(_("the number as written on the form"), value_stdin, hidden=True)
    state = v.key(get_settings(), token, receipt, field, value)
    _field_now(receipt, field, state)


@verify_app.command("confirm", help=_(
    "Confirm another person's correction, deletion or acceptance (checker)."))
def verify_confirm(receipt: Receipt, field: FieldName) -> None:
    from storage.usecases import verification as v

    state = v.confirm(get_settings(), token, receipt, field)
    console.print(_("{field} of {receipt} confirmed; the document is {state}").format(
        field=field, receipt=receipt, state=_state(state)))


@verify_app.command("return", help=_(
    "Send a change back to the verifiers, saying why (checker)."))
def verify_return(
    receipt: Receipt, field: FieldName,
    note: Annotated[str, typer.Option(help=_("Why the change goes back."))],
) -> None:
    from storage.usecases import verification as v

    v.return_change(get_settings(), token, receipt, field, note)
    console.print(_("{field} of {receipt} goes back to the verifiers").format(
        field=field, receipt=receipt))


@verify_app.command("investigate", help=_(
    "Send a document to 疑義 (under investigation); it leaves only by a decision."))
def verify_investigate(
    receipt: Receipt,
    note: Annotated[str, typer.Option(help=_("What is doubtful."))],
) -> None:
    from storage.usecases import verification as v

    v.investigate(get_settings(), token, receipt, note)
    console.print(_("{receipt} is {state}").format(receipt=receipt,
                                                   state=_state("investigation")))


@verify_app.command("rescan", help=_(
    "Send a document back to the scanning desk."))
def verify_rescan(
    receipt: Receipt,
    note: Annotated[str, typer.Option(help=_("Why the page is scanned again."))],
) -> None:
    from storage.usecases import verification as v

    v.rescan(get_settings(), token, receipt, note)
    console.print(_("{receipt} is {state}").format(receipt=receipt, state=_state("rescan")))


@verify_app.command("decide", help=_(
    "End a 疑義, by another person than the one who raised it (checker)."))
def verify_decide(
    receipt: Receipt,
    decision: Annotated[str, typer.Argument(help=_("resume (back to verification) or "
                                                     "rescan (back to the scanning desk)."))],
    note: Annotated[str, typer.Option(help=_("Why."))],
) -> None:
    from storage.usecases import verification as v

    state = v.decide(get_settings(), token, receipt, decision, note)
    console.print(_("{receipt} is {state}").format(receipt=receipt, state=_state(state)))


@verify_app.command("finish", help=_(
    "A document none of whose fields waits any more is verified."))
def verify_finish(receipt: Receipt) -> None:
    from storage.usecases import verification as v

    state = v.finish(get_settings(), token, receipt)
    console.print(_("{receipt} is {state}").format(receipt=receipt, state=_state(state)))
