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
from rich.table import Table

from schemas.errors import Damaged, NotSignedIn
from schemas.i18n import _
from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    from storage.accounts import SignedIn

users_app = typer.Typer(help="Accounts: one per person, with duty roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain: verify, search, review report.",
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
        raise NotSignedIn(f"{path} may be read by others: run `kura login NAME` again")
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
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text} is not a date like 2026-12-31") from None


# --- kura login / logout / whoami ---------------------------------------------------------


def login(
    username: Annotated[str, typer.Argument(help="Your own user name (no shared accounts).")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Sign in: keeps a short-lived session token (mode 0600) for the next commands. An
    account with a second factor types its TOTP code too (with --password-stdin: the line
    after the password)."""
    from storage.usecases import people

    settings = get_settings()
    signed = people.sign_in(settings, username, _password(password_stdin, confirm=False))
    _second_factor(settings, signed, password_stdin)
    write_session(settings, signed)
    local = signed.expires_at.astimezone()
    console.print(f"signed in as {signed.username} ({', '.join(signed.roles)}) until "
                  f"{local:%Y-%m-%d %H:%M}. Every operation is recorded in the audit log "
                  "under your name.")


def _second_factor(settings: Settings, signed: SignedIn, from_stdin: bool) -> None:
    """The code of the account's authenticator app, checked by the same use case as the
    rooms' sign-in; the session opens nothing until it is right."""
    from storage.usecases import access, people
    from storage.usecases.access import SecondFactorRefused

    if signed.second_factor != "code":
        if access.needs_second_factor(signed.roles):
            console.print(_("Your duty signs in with a one-time code: set it up at the rooms' "
                            "sign-in page (kura web) before its first use there."))
        return
    code = (sys.stdin.readline().strip() if from_stdin
            else str(typer.prompt(_("one-time code"), hide_input=True)))
    if not access.check_second_factor(settings, signed.token, code):
        people.sign_out(settings, signed.token)
        raise SecondFactorRefused(_("That code is not right: sign in again and type the 6 "
                                    "digits your app shows now."))


def logout() -> None:
    """Sign out: the session ends in the database and the token file is removed."""
    from storage.usecases import people

    settings = get_settings()
    try:
        session_token = read_token(settings)
    except NotSignedIn:
        session_token = None
    username = people.sign_out(settings, session_token) if session_token else None
    session_path(settings).unlink(missing_ok=True)
    console.print(f"signed out {username}" if username else "not signed in")


def whoami() -> None:
    """Who is signed in here, with which duties."""
    from storage.usecases import people

    account = people.whoami(get_settings(), token)
    console.print(f"{account.username} ({', '.join(account.roles)})")


# --- kura users ---------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[list[str], typer.Option(
        "--role", help="Duty role, repeat for several: scanning_clerk, verifier, checker, "
        "records_manager, security_admin, backup_operator, auditor.")],
    expires: Annotated[str | None, typer.Option(
        help="Last day the account works (YYYY-MM-DD): temporary staff, contractors.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    generate: Annotated[bool, typer.Option(
        "--generate-password", help="Make up a password and print it once.")] = False,
) -> None:
    """Add a person's account (security administrator). The very first account of an
    installation must be a security administrator and needs no sign-in."""
    from storage.accounts import new_password
    from storage.usecases import people

    password = new_password() if generate else _password(password_stdin, confirm=True)
    account = people.add_account(get_settings(), token, username, role, password,
                                 _date(expires), os_user=getpass.getuser())
    console.print(f"added {username} ({', '.join(account.roles)})"
                  + (f", expires after {expires}" if expires else ""))
    if generate:
        console.print(f"password (shown once, hand it over in person): {password}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account at once (transfer, leaving); its sessions end."""
    from storage.usecases import people

    people.disable_account(get_settings(), token, username)
    console.print(f"disabled {username}")


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable an account again (also lifts a lock after wrong passwords)."""
    from storage.usecases import people

    people.enable_account(get_settings(), token, username)
    console.print(f"enabled {username}")


@users_app.command("roles")
def users_roles(username: str, role: Annotated[list[str], typer.Option("--role")]) -> None:
    """Replace an account's duty roles; its sessions end."""
    from storage.usecases import people

    people.set_roles(get_settings(), token, username, role)
    console.print(f"{username} now has {', '.join(role)}")


@users_app.command("expire")
def users_expire(username: str, on: Annotated[str, typer.Option(
        help="Last day (YYYY-MM-DD), or 'never'.")]) -> None:
    """Set or clear an account's expiry date."""
    from storage.usecases import people

    people.set_expiry(get_settings(), token, username, None if on == "never" else _date(on))
    console.print(f"{username} expires after {on}")


@users_app.command("password")
def users_password(username: str,
                   password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
                   ) -> None:
    """Set a new password for an account (security administrator); its sessions end."""
    from storage.usecases import people

    settings = get_settings()
    people.set_password(settings, token, username, _password(password_stdin, confirm=True))
    console.print(f"password of {username} changed")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account with duties, expiry and last sign-in (the monthly access review)."""
    from storage.usecases import people

    found = people.list_accounts(get_settings(), token)
    if as_json:
        print(json.dumps([{
            "username": a.username, "kind": a.kind, "roles": a.roles,
            "expires_on": a.expires_on.isoformat() if a.expires_on else None,
            "disabled": a.disabled, "expired": a.expired,
            "last_login_at": a.last_login_at.isoformat(timespec="seconds")
            if a.last_login_at else None,
            "created_by": a.created_by,
        } for a in found], ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{len(found)} accounts")
    for column in ("user", "kind", "duties", "expires", "state", "last sign-in"):
        table.add_column(column)
    for a in found:
        last = a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else "—"
        table.add_row(a.username, a.kind, ", ".join(a.roles),
                      a.expires_on.isoformat() if a.expires_on else "—", a.state, last)
    console.print(table)


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
        raise typer.BadParameter(f"{text} is not a date (2026-11-22) or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=OFFICE_TZ)


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Walk the hash chain and the signed checkpoints; name the first entry that was
    changed, removed, reordered or inserted. Exit code 5 when anything does not hold."""
    from storage.usecases import audit as audit_cases

    report = audit_cases.verify_chain(get_settings(), token)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    elif report.ok:
        console.print(f"audit chain intact: {report.entries} entries, "
                      f"{report.checkpoints_verified} signed checkpoints verified")
    else:
        console.print(f"[bold red]audit chain broken[/]: {report.entries} entries, "
                      f"{len(report.problems)} problem(s)")
        for problem in report.problems:
            console.print(f"  {problem.kind:22} {problem.message}")
    if not report.ok:
        raise Damaged(f"the audit chain does not verify: {len(report.problems)} problem(s)")


@audit_app.command("search")
def audit_search(
    person: Annotated[str | None, typer.Option(help="User name of the actor.")] = None,
    record: Annotated[str | None, typer.Option(help="受付番号 or any object id.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. login, original.open, user")] = None,
    since: Annotated[str | None, typer.Option(help="From this date or date-time.")] = None,
    until: Annotated[str | None, typer.Option(help="Up to and including this date.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the log by person, record, action and time (auditor)."""
    from storage.usecases import audit as audit_cases

    found = audit_cases.search_log(
        get_settings(), token, person=person, record=record, action=action,
        since=_moment(since), until=_moment(until, end=True), limit=limit)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{len(found)} audit entries")
    for column in ("#", "at", "who", "duty", "action", "purpose", "objects", "result"):
        table.add_column(column)
    for row in found:
        table.add_row(str(row["seq"]), row["at"], row["actor"], row["role"], row["action"],
                      row["purpose"] or "", " ".join(i[:8] for i in row["object_ids"][:4])
                      + (" …" if len(row["object_ids"]) > 4 else ""), row["result"])
    console.print(table)


@audit_app.command("report")
def audit_report(
    out: Annotated[Path, typer.Option(help="Where to write the report.")],
    quarter: Annotated[str | None, typer.Option(help="e.g. 2026Q4")] = None,
    since: Annotated[str | None, typer.Option()] = None,
    until: Annotated[str | None, typer.Option()] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | json")] = "csv",
) -> None:
    """The quarterly log-review report (control 22): activity per person, sign-in failures,
    refusals, originals opened and why, account changes, off-hours work, chain status."""
    from storage.audit_reports import quarter_bounds, report_csv
    from storage.usecases import audit as audit_cases

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format is csv or json")
    if quarter:
        try:
            start, end = quarter_bounds(quarter)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    elif since and until:
        start, end = _moment(since), _moment(until, end=True)  # type: ignore[assignment]
    else:
        raise typer.BadParameter("give --quarter, or --since and --until")
    report = audit_cases.review(get_settings(), token, start, end, fmt)
    text = (report_csv(report) if fmt == "csv"
            else json.dumps(report, ensure_ascii=False, indent=1))
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}: {report['entries']} entries from {start:%Y-%m-%d} to "
                  f"{end:%Y-%m-%d}, chain {'intact' if report['chain']['ok'] else 'BROKEN'}")


@audit_app.command("erase")
def audit_erase(
    record: Annotated[str, typer.Argument(help="受付番号 (or any object id) of the record.")],
    why: Annotated[str, typer.Option(help="The case: a disclosure request's reference.")],
) -> None:
    """Erase every purpose, note and reason recorded about a record (records manager): their
    keys are destroyed, the chain and its checkpoints stay intact. Example:
    kura audit erase R20261129-000001 --why "開示請求 2026-41"
    """
    from storage.usecases import audit as audit_cases

    erased = audit_cases.erase_words(get_settings(), token, record, why)
    console.print(f"erased {erased} recorded purposes, notes and reasons about {record}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the head of the chain now and write it to the checkpoint store."""
    from storage.usecases import audit as audit_cases

    checkpoint, location = audit_cases.checkpoint_now(get_settings(), token)
    if checkpoint is None:
        console.print("the head is already checkpointed")
        return
    console.print(f"checkpoint of entry {checkpoint.seq} written to {location}")
