"""People at the command line: `kura users …`, `kura login` / `logout` / `whoami`,
`kura audit …`, and `require()`, which every command that reads or changes records calls
first. A refused command says why, is itself an audit entry, and exits with code 4."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from schemas.settings import Settings, get_settings
from storage.audit import Actor

EXIT_REFUSED = 4

users_app = typer.Typer(help="Accounts: one per person, with duty roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain: verify, search, review report.",
                        no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def ready(settings: Settings) -> None:
    _upgrade_once(settings.sqlalchemy_url)


@lru_cache(maxsize=4)
def _upgrade_once(url: str) -> None:
    from storage.db import upgrade

    upgrade(url)


def _after(settings: Settings) -> None:
    from storage.audit import checkpoint_if_due

    checkpoint_if_due(settings)


# --- The session file ---------------------------------------------------------------------


def session_path(settings: Settings) -> Path:
    return Path(settings.session_file) if settings.session_file else \
        settings.data_dir / "session"


def _write_session(settings: Settings, token: str, username: str,
                   expires_at: dt.datetime) -> Path:
    path = session_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"token": token, "username": username,
                   "expires_at": expires_at.isoformat(timespec="seconds")}, handle)
    return path


def _read_token(settings: Settings) -> str | None:
    from storage.accounts import NotSignedIn

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


def _remove_session(settings: Settings) -> None:
    session_path(settings).unlink(missing_ok=True)


# --- Who is asking ------------------------------------------------------------------------


def require(settings: Settings, permission: str) -> Actor:
    """The signed-in person and the duty under which they may do `permission`; otherwise
    the refusal is written to the audit chain and the command exits with code 4."""
    from storage.accounts import NotAllowed, NotSignedIn, current, duty_for
    from storage.audit import append
    from storage.db import session_scope

    ready(settings)
    refusal: str | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            person = current(session, _read_token(settings))
            actor = Actor(person.username, duty_for(person, permission))
        except NotSignedIn as error:
            refusal = str(error)
            append(session, Actor("anonymous", "-"), "access", result="denied:not_signed_in",
                   detail={"permission": permission})
        except NotAllowed as error:
            refusal = str(error)
            append(session, Actor(person.username, ",".join(person.roles)), "access",
                   [person.id], result="denied:duty", detail={"permission": permission})
    if refusal is not None:
        err.print(f"[bold red]refused:[/] {refusal}")
        raise typer.Exit(code=EXIT_REFUSED)
    return actor


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


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=code)


# --- kura login / logout / whoami ---------------------------------------------------------


def login(
    username: Annotated[str, typer.Argument(help="Your own user name (no shared accounts).")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Sign in: keeps a short-lived session token (mode 0600) for the next commands."""
    from storage.accounts import SignInRefused, sign_in
    from storage.db import session_scope

    settings = get_settings()
    ready(settings)
    password = _password(password_stdin, confirm=False)
    refused: SignInRefused | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            signed = sign_in(session, username, password, settings.session_minutes,
                             settings.login_max_failures, settings.login_lockout_minutes)
        except SignInRefused as error:
            refused = error  # the refusal's audit entry commits with this transaction
    _after(settings)
    if refused is not None:
        raise _fail(str(refused), EXIT_REFUSED)
    _write_session(settings, signed.token, signed.username, signed.expires_at)
    local = signed.expires_at.astimezone()
    console.print(f"signed in as {signed.username} ({', '.join(signed.roles)}) until "
                  f"{local:%Y-%m-%d %H:%M}. Every operation is recorded in the audit log "
                  "under your name.")


def logout() -> None:
    """Sign out: the session ends in the database and the token file is removed."""
    from storage.accounts import sign_out
    from storage.db import session_scope

    settings = get_settings()
    ready(settings)
    token = None
    try:
        token = _read_token(settings)
    except Exception:
        token = None
    person = None
    if token:
        with session_scope(settings.sqlalchemy_url) as session:
            person = sign_out(session, token)
        _after(settings)
    _remove_session(settings)
    console.print(f"signed out {person.username}" if person else "not signed in")


def whoami() -> None:
    """Who is signed in here, with which duties."""
    from storage.accounts import NotSignedIn, current
    from storage.db import session_scope

    settings = get_settings()
    ready(settings)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            person = current(session, _read_token(settings))
            console.print(f"{person.username} ({', '.join(person.roles)})")
    except NotSignedIn as error:
        raise _fail(str(error), EXIT_REFUSED) from None


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
    from storage.accounts import AccountError, add_person, has_people, new_password
    from storage.db import session_scope

    settings = get_settings()
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        bootstrap = not has_people(session)
    if bootstrap:
        if "security_admin" not in role:
            raise _fail("there is no account yet: the first one must be a security "
                        "administrator (--role security_admin)")
        by = Actor("bootstrap", f"os-user:{getpass.getuser()}")
    else:
        by = require(settings, "users.manage")
    password = new_password() if generate else _password(password_stdin, confirm=True)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            person = add_person(session, by, username, role, password, _date(expires))
            roles = list(person.roles)
    except AccountError as error:
        raise _fail(str(error)) from None
    _after(settings)
    console.print(f"added {username} ({', '.join(roles)})"
                  + (f", expires after {expires}" if expires else ""))
    if generate:
        console.print(f"password (shown once, hand it over in person): {password}")


def _change(permission: str, change: str, username: str, **kwargs: object) -> None:
    from storage import accounts
    from storage.db import session_scope

    settings = get_settings()
    by = require(settings, permission)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            getattr(accounts, change)(session, by, username, **kwargs)
    except accounts.AccountError as error:
        raise _fail(str(error)) from None
    _after(settings)


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account at once (transfer, leaving); its sessions end."""
    _change("users.manage", "disable", username)
    console.print(f"disabled {username}")


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable an account again (also lifts a lock after wrong passwords)."""
    _change("users.manage", "enable", username)
    console.print(f"enabled {username}")


@users_app.command("roles")
def users_roles(username: str, role: Annotated[list[str], typer.Option("--role")]) -> None:
    """Replace an account's duty roles; its sessions end."""
    _change("users.manage", "set_roles", username, roles=role)
    console.print(f"{username} now has {', '.join(role)}")


@users_app.command("expire")
def users_expire(username: str, on: Annotated[str, typer.Option(
        help="Last day (YYYY-MM-DD), or 'never'.")]) -> None:
    """Set or clear an account's expiry date."""
    _change("users.manage", "set_expiry", username,
            expires_on=None if on == "never" else _date(on))
    console.print(f"{username} expires after {on}")


@users_app.command("password")
def users_password(username: str,
                   password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
                   ) -> None:
    """Set a new password for an account (security administrator); its sessions end."""
    _change("users.manage", "set_password", username,
            password=_password(password_stdin, confirm=True))
    console.print(f"password of {username} changed")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account with duties, expiry and last sign-in (the monthly access review)."""
    from storage.accounts import find, people
    from storage.audit import append
    from storage.db import session_scope

    settings = get_settings()
    by = require(settings, "users.read")
    with session_scope(settings.sqlalchemy_url) as session:
        accounts = people(session)
        service = find(session, "svc-worker")
        rows: list[dict[str, Any]] = [{
            "username": p.username, "kind": p.kind, "roles": list(p.roles),
            "expires_on": p.expires_on.isoformat() if p.expires_on else None,
            "disabled": p.disabled, "expired": p.expired(),
            "last_login_at": p.last_login_at.isoformat(timespec="seconds")
            if p.last_login_at else None,
            "created_by": p.created_by,
        } for p in [*accounts, *([service] if service else [])]]
        append(session, by, "user.list", result="ok", detail={"accounts": len(rows)})
    _after(settings)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{len(rows)} accounts")
    for column in ("user", "kind", "duties", "expires", "state", "last sign-in"):
        table.add_column(column)
    for row in rows:
        state = "disabled" if row["disabled"] else "expired" if row["expired"] else "active"
        table.add_row(str(row["username"]), str(row["kind"]), ", ".join(row["roles"]),
                      str(row["expires_on"] or "—"), state, str(row["last_login_at"] or "—"))
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
    changed, removed, reordered or inserted. Exit code 1 when anything does not hold."""
    from storage.audit import append, verify
    from storage.db import session_scope

    settings = get_settings()
    by = require(settings, "audit.verify")
    report = verify(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        first = report.first
        append(session, by, "audit.verify",
               result="ok" if report.ok else f"problems:{len(report.problems)}",
               detail={"entries": report.entries, "checkpoints": report.checkpoints,
                       "first": f"{first.kind}@{first.seq}" if first else None})
    _after(settings)
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
        raise typer.Exit(code=1)


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
    from storage.audit import append, as_row, record_ids, search
    from storage.db import session_scope

    settings = get_settings()
    by = require(settings, "audit.read")
    with session_scope(settings.sqlalchemy_url) as session:
        found = [as_row(e) for e in search(
            session, person=person, record=record, action=action, since=_moment(since),
            until=_moment(until, end=True), limit=limit)]
        append(session, by, "audit.search",
               sorted(record_ids(session, record)) if record else [], result="ok",
               detail={"person": person, "record": record, "action": action, "since": since,
                       "until": until, "found": len(found)})
    _after(settings)
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
    from storage.audit import append, quarter_bounds, report_csv, review_report
    from storage.db import session_scope

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
    settings = get_settings()
    by = require(settings, "audit.read")
    with session_scope(settings.sqlalchemy_url) as session:
        report = review_report(settings, session, start, end)
        append(session, by, "audit.report", result="ok",
               detail={"from": start.isoformat(), "until": end.isoformat(), "format": fmt,
                       "entries": report["entries"]})
    _after(settings)
    text = (report_csv(report) if fmt == "csv"
            else json.dumps(report, ensure_ascii=False, indent=1))
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}: {report['entries']} entries from {start:%Y-%m-%d} to "
                  f"{end:%Y-%m-%d}, chain {'intact' if report['chain']['ok'] else 'BROKEN'}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the head of the chain now and write it to the checkpoint store."""
    from storage.audit import append, checkpoint_store, write_checkpoint
    from storage.db import session_scope

    settings = get_settings()
    by = require(settings, "audit.checkpoint")
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, by, "audit.checkpoint", result="ok")
    checkpoint = write_checkpoint(settings, force=True)
    if checkpoint is None:
        console.print("the head is already checkpointed")
        return
    console.print(f"checkpoint of entry {checkpoint.seq} written to "
                  f"{checkpoint_store(settings).location}")


# --- The demo's people --------------------------------------------------------------------

DEMO_ACCOUNTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("demo-clerk", ("scanning_clerk",)),
    ("demo-verifier", ("verifier",)),
    ("demo-checker", ("checker",)),
    ("demo-records", ("records_manager",)),
    ("demo-admin", ("security_admin",)),
    ("demo-backup", ("backup_operator",)),
    ("demo-auditor", ("auditor",)),
)


def demo_people(settings: Settings) -> list[tuple[str, str, str]]:
    """Create (or reset) the demo accounts with fresh passwords, sign in as the demo clerk,
    and return (user, duties, password) to print."""
    from storage import accounts
    from storage.db import session_scope

    ready(settings)
    by = Actor("kura-demo", f"os-user:{getpass.getuser()}")
    shown: list[tuple[str, str, str]] = []
    with session_scope(settings.sqlalchemy_url) as session:
        for username, roles in DEMO_ACCOUNTS:
            password = accounts.new_password()
            if accounts.find(session, username) is None:
                accounts.add_person(session, by, username, list(roles), password)
            else:
                accounts.set_password(session, by, username, password)
                if accounts.find(session, username).disabled:  # type: ignore[union-attr]
                    accounts.enable(session, by, username)
            shown.append((username, ", ".join(roles), password))
        clerk_password = shown[0][2]
        signed = accounts.sign_in(session, "demo-clerk", clerk_password,
                                  settings.session_minutes)
    _write_session(settings, signed.token, signed.username, signed.expires_at)
    _after(settings)
    return shown
