"""People at the command line: `kura login` / `logout` / `whoami`, `kura users …`,
`kura audit …`, and the session file every command that reads or changes records signs in
with. The use cases live in storage/usecases/ (people.py, audit.py); a refused command says
why, is itself an audit entry, and exits with code 4 (kura.cli.main)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kura.calls import usecase
from kura.help import duty_names
from kura.tables import JSON_HELP, Column, fitted
from schemas.errors import Damaged, NotSignedIn
from schemas.i18n import N_, _, ngettext
from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    from storage.accounts import SignedIn
    from storage.usecases.access import Enrolment

users_app = typer.Typer(help=N_("Accounts: one per person, with duty roles."), no_args_is_help=True)
audit_app = typer.Typer(help=N_("The audit chain: verify, search, review report."),
                        no_args_is_help=True)
console = Console()


# --- The session file ---------------------------------------------------------------------


def session_path(settings: Settings) -> Path:
    return Path(settings.session_file) if settings.session_file else \
        settings.data_dir / "session"


def write_session(settings: Settings, signed: SignedIn) -> Path:
    path = session_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"token": signed.token, "username": signed.username,
                   "expires_at": signed.expires_at.isoformat(timespec="seconds")}, handle)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def read_token(settings: Settings) -> str | None:
    """The token this machine's user signed in with; refused when others may read it."""
    path = session_path(settings)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotSignedIn(_("{path} may be read by others: run `kura login NAME` again")
                          .format(path=path))
    try:
        return str(json.loads(path.read_text())["token"])
    except (ValueError, KeyError, TypeError):
        return None


def token() -> str | None:
    """The signed-in session of this command (read when the use case asks for it)."""
    return read_token(get_settings())


def _password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt(_("password"), hide_input=True, confirmation_prompt=confirm))


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(_("{text} is not a date like 2026-12-31").format(
            text=text)) from None


# --- kura login / logout / whoami ---------------------------------------------------------


def login(
    username: Annotated[str, typer.Argument(help=N_("Your own user name (no shared accounts)."))],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help=N_("Read the password from standard input."))] = False,
) -> None:
    """Sign in: keeps a short-lived session token (mode 0600) for the next commands. An
    account with a second factor types its TOTP code too (with --password-stdin: the line
    after the password); a duty that needs one and has none sets it up first, with the key
    shown here."""
    people = usecase("people")

    settings = get_settings()
    signed = people.sign_in(settings, username, _password(password_stdin, confirm=False),
                            enrol=True)
    _second_factor(settings, signed, password_stdin)
    write_session(settings, signed)
    local = signed.expires_at.astimezone()
    console.print(_("signed in as {user} ({duties}) until {until}. Every operation is "
                    "recorded in the audit log under your name.").format(
                        user=signed.username, duties=duty_names(signed.roles),
                        until=f"{local:%Y-%m-%d %H:%M}"))


def _second_factor(settings: Settings, signed: SignedIn, from_stdin: bool) -> None:
    """The code of the account's authenticator app, checked by the same use cases as the
    rooms' sign-in; the session opens nothing until it is right. A duty that needs a second
    factor and has none sets it up here first: the secret is shown, and only the first right
    code sets it up (until then every sign-in shows the same secret again)."""
    access, people = usecase("access"), usecase("people")
    from storage.usecases.access import SecondFactorRefused

    if not signed.second_factor:
        return
    enrolling = signed.second_factor == "enrol"
    if enrolling:
        _show_enrolment(access.begin_enrolment(settings, signed.token))
    code = (sys.stdin.readline().strip() if from_stdin
            else str(typer.prompt(_("one-time code"), hide_input=True)))
    if not access.check_second_factor(settings, signed.token, code):
        people.sign_out(settings, signed.token)
        raise SecondFactorRefused(
            _("That code is not right, so the second factor is not set up: sign in again "
              "(the same key is shown) and type the 6 digits your app shows now.")
            if enrolling else
            _("That code is not right: sign in again and type the 6 digits your app shows "
              "now."))
    if enrolling:
        console.print(_("second factor set up: from now on you sign in with your password "
                        "and the code of your app"))


def _show_enrolment(enrolment: Enrolment) -> None:
    """The secret, in both forms apps take, on this terminal only (never a file or a log);
    the URI unbroken so that it can be copied whole."""
    console.print(_("Your duty signs in with a one-time code. Add this key to an "
                    "authenticator app on your office phone, then type the code it shows."))
    console.print("  " + _("key: {secret}").format(secret=enrolment.secret), markup=False,
                  highlight=False)
    console.print(f"  {enrolment.uri}", markup=False, highlight=False, soft_wrap=True)


def logout() -> None:
    """Sign out: the session ends in the database and the token file is removed."""
    people = usecase("people")

    settings = get_settings()
    try:
        session_token = read_token(settings)
    except NotSignedIn:
        session_token = None
    username = people.sign_out(settings, session_token) if session_token else None
    session_path(settings).unlink(missing_ok=True)
    console.print(_("signed out {user}").format(user=username) if username
                  else _("not signed in"))


def whoami() -> None:
    """Who is signed in here, with which duties."""
    people = usecase("people")

    account = people.whoami(get_settings(), token)
    console.print(f"{account.username} ({', '.join(account.roles)})"
                  + (f" {account.municipality}" if account.municipality else ""))


# --- kura users ---------------------------------------------------------------------------


MUNICIPALITY_HELP = N_("The 全国地方公共団体コード (6 digits) whose documents the person works "
                      "on, where offices share one installation (default: the "
                      "installation's, KURA_MUNICIPALITY_CODE).")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[list[str], typer.Option(
        "--role", help=N_("Duty role, repeat for several: scanning_clerk, verifier, checker, "
        "records_manager, security_admin, backup_operator, auditor."))],
    expires: Annotated[str | None, typer.Option(
        help=N_("Last day the account works (YYYY-MM-DD): temporary staff, contractors."))] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    generate: Annotated[bool, typer.Option(
        "--generate-password", help=N_("Make up a password and print it once."))] = False,
    municipality: Annotated[str | None, typer.Option(help=MUNICIPALITY_HELP)] = None,
) -> None:
    """Add a person's account (security administrator). The very first account of an
    installation must be a security administrator and needs no sign-in."""
    from storage.accounts import new_password
    people = usecase("people")

    password = new_password() if generate else _password(password_stdin, confirm=True)
    account = people.add_account(get_settings(), token, username, role, password,
                                 _date(expires), os_user=getpass.getuser(),
                                 municipality=municipality)
    console.print(_("added {user} ({duties})").format(user=username,
                                                      duties=", ".join(account.roles))
                  + (_(", expires after {day}").format(day=expires) if expires else ""))
    if generate:
        console.print(_("password (shown once, hand it over in person): {password}").format(
            password=password))


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account at once (transfer, leaving); its sessions end."""
    people = usecase("people")

    people.disable_account(get_settings(), token, username)
    console.print(_("disabled {user}").format(user=username))


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable an account again (also lifts a lock after wrong passwords)."""
    people = usecase("people")

    people.enable_account(get_settings(), token, username)
    console.print(_("enabled {user}").format(user=username))


@users_app.command("roles")
def users_roles(username: str, role: Annotated[list[str], typer.Option(
        "--role", help=N_("Duty role, repeat for several."))]) -> None:
    """Replace an account's duty roles; its sessions end."""
    people = usecase("people")

    people.set_roles(get_settings(), token, username, role)
    console.print(_("{user} now has {duties}").format(user=username, duties=", ".join(role)))


@users_app.command("expire")
def users_expire(username: str, on: Annotated[str, typer.Option(
        help=N_("Last day (YYYY-MM-DD), or 'never'."))]) -> None:
    """Set or clear an account's expiry date."""
    people = usecase("people")

    people.set_expiry(get_settings(), token, username, None if on == "never" else _date(on))
    console.print(_("{user} expires after {day}").format(user=username, day=on))


@users_app.command("municipality")
def users_municipality(username: str, code: Annotated[str, typer.Argument(help=N_(
        "The 全国地方公共団体コード (6 digits), or 'installation' for the installation's "
        "own."))]) -> None:
    """Bind an account to the municipality whose documents it sees and acts on."""
    people = usecase("people")

    bound = None if code == "installation" else code
    people.set_municipality(get_settings(), token, username, bound)
    console.print(_("{user} works on the documents of {code}").format(
        user=username, code=bound or _("the installation's municipality")))


@users_app.command("password")
def users_password(username: str,
                   password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
                   ) -> None:
    """Set a new password for an account (security administrator); its sessions end."""
    people = usecase("people")

    settings = get_settings()
    people.set_password(settings, token, username, _password(password_stdin, confirm=True))
    console.print(_("password of {user} changed").format(user=username))


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
               ) -> None:
    """Every account with duties, expiry and last sign-in (the monthly access review)."""
    people = usecase("people")

    found = people.list_accounts(get_settings(), token)
    if as_json:
        print(json.dumps([{
            "username": a.username, "kind": a.kind, "roles": a.roles,
            "expires_on": a.expires_on.isoformat() if a.expires_on else None,
            "disabled": a.disabled, "expired": a.expired,
            "last_login_at": a.last_login_at.isoformat(timespec="seconds")
            if a.last_login_at else None,
            "created_by": a.created_by, "municipality": a.municipality,
        } for a in found], ensure_ascii=False, indent=1))
        return
    columns = [Column(_("User"), 8, identifier=True), Column(_("Kind"), 6, 0),
               Column(_("Duties"), 12, 5), Column(_("Expires"), 10, 3), Column(_("State"), 6, 4),
               Column(_("Last sign-in"), 10, 2)]
    rows = [[a.username, _(a.kind), ", ".join(a.roles),
             a.expires_on.isoformat() if a.expires_on else "—", _(a.state),
             a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else "—"]
            for a in found]
    console.print(fitted(console, ngettext("{count} account", "{count} accounts", len(found))
                         .format(count=len(found)), columns, rows))


# --- kura audit ---------------------------------------------------------------------------


def _moment(text: str | None, end: bool = False) -> dt.datetime | None:
    """A date (office time, whole day) or an ISO date-time."""
    from storage.audit import OFFICE_TZ

    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            return dt.datetime(day.year, day.month, day.day, tzinfo=OFFICE_TZ)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(_("{text} is not a date (2026-11-22) or date-time").format(
            text=text)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=OFFICE_TZ)


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
                 ) -> None:
    """Walk the hash chain and the signed checkpoints; name the first entry that was
    changed, removed, reordered or inserted. Exit code 5 when anything does not hold."""
    audit_cases = usecase("audit")

    report = audit_cases.verify_chain(get_settings(), token)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    elif report.ok:
        console.print(_("audit chain intact: {entries} entries, {checkpoints} signed "
                        "checkpoints verified").format(
                            entries=report.entries, checkpoints=report.checkpoints_verified))
    else:
        console.print("[bold red]" + _("audit chain broken") + "[/]: " + _(
            "{entries} entries, {problems} problem(s)").format(
                entries=report.entries, problems=len(report.problems)))
        for problem in report.problems:
            console.print(f"  {problem.kind:22} {problem.message}")
    if not report.ok:
        raise Damaged(_("the audit chain does not verify: {problems} problem(s)").format(
            problems=len(report.problems)))


@audit_app.command("search")
def audit_search(
    person: Annotated[str | None, typer.Option(help=N_("User name of the actor."))] = None,
    record: Annotated[str | None, typer.Option(help=N_("受付番号 or any object id."))] = None,
    action: Annotated[str | None, typer.Option(help=N_("e.g. login, original.open, user"))
                      ] = None,
    since: Annotated[str | None, typer.Option(help=N_("From this date or date-time."))] = None,
    until: Annotated[str | None, typer.Option(help=N_("Up to and including this date."))] = None,
    limit: Annotated[int, typer.Option(help=N_("At most this many entries."))] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Search the log by person, record, action and time (auditor)."""
    audit_cases = usecase("audit")

    found = audit_cases.search_log(
        get_settings(), token, person=person, record=record, action=action,
        since=_moment(since), until=_moment(until, end=True), limit=limit)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return
    columns = [Column("#", 4, identifier=True), Column(_("At"), 10, 6),
               Column(_("Who"), 6, 5), Column(_("Duty"), 6, 1), Column(_("Action"), 10, 4),
               Column(_("Purpose"), 8, 2), Column(_("Objects"), 8, 0),
               Column(_("Result"), 6, 3)]
    rows = [[str(row["seq"]), row["at"], row["actor"], row["role"], row["action"],
             row["purpose"] or "", " ".join(i[:8] for i in row["object_ids"][:4])
             + (" …" if len(row["object_ids"]) > 4 else ""), _(row["result"])] for row in found]
    console.print(fitted(console, ngettext("{count} audit entry", "{count} audit entries",
                                           len(found)).format(count=len(found)), columns, rows))


@audit_app.command("report")
def audit_report(
    out: Annotated[Path, typer.Option(help=N_("Where to write the report."))],
    quarter: Annotated[str | None, typer.Option(help=N_("e.g. 2026Q4"))] = None,
    since: Annotated[str | None, typer.Option()] = None,
    until: Annotated[str | None, typer.Option()] = None,
    fmt: Annotated[str, typer.Option("--format", help=N_("csv | json"))] = "csv",
) -> None:
    """The quarterly log-review report (control 22): activity per person, sign-in failures,
    refusals, originals opened and why, account changes, off-hours work, chain status."""
    from storage.audit_reports import quarter_bounds, report_csv
    audit_cases = usecase("audit")

    if fmt not in ("csv", "json"):
        raise typer.BadParameter(_("--format is csv or json"))
    if quarter:
        try:
            start, end = quarter_bounds(quarter)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    elif since and until:
        start, end = _moment(since), _moment(until, end=True)  # type: ignore[assignment]
    else:
        raise typer.BadParameter(_("give --quarter, or --since and --until"))
    report = audit_cases.review(get_settings(), token, start, end, fmt)
    text = (report_csv(report) if fmt == "csv"
            else json.dumps(report, ensure_ascii=False, indent=1))
    out.write_text(text, encoding="utf-8")
    console.print(_("wrote {path}: {entries} entries from {start} to {end}, chain {chain}")
                  .format(path=out, entries=report["entries"], start=f"{start:%Y-%m-%d}",
                          end=f"{end:%Y-%m-%d}",
                          chain=_("intact") if report["chain"]["ok"] else _("BROKEN")))


@audit_app.command("erase")
def audit_erase(
    record: Annotated[str, typer.Argument(help=N_("受付番号 (or any object id) of the record."))],
    why: Annotated[str, typer.Option(help=N_("The case: a disclosure request's reference."))],
) -> None:
    """Erase every purpose, note and reason recorded about a record (records manager): their
    keys are destroyed, the chain and its checkpoints stay intact."""
    audit_cases = usecase("audit")

    erased = audit_cases.erase_words(get_settings(), token, record, why)
    console.print(_("erased {count} recorded purposes, notes and reasons about {record}")
                  .format(count=erased, record=record))


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the head of the chain now and write it to the checkpoint store."""
    audit_cases = usecase("audit")

    checkpoint, location = audit_cases.checkpoint_now(get_settings(), token)
    if checkpoint is None:
        console.print(_("the head is already checkpointed"))
        return
    console.print(_("checkpoint of entry {seq} written to {location}").format(
        seq=checkpoint.seq, location=location))
