"""People: signing in and out, and the accounts a security administrator keeps (one per
person, with duty roles). Every change is an audit entry (storage/accounts.py writes it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import Conflict, InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage import accounts
from storage.accounts import SignedIn, SignInRefused
from storage.audit import SERVICE_NAME, Actor
from storage.db import session_scope
from storage.models import SecondFactor, StoredObject
from storage.usecases.base import Token, acting, anchor, ready

"""Duties that sign in with a password and a TOTP code (privileged access to originals,
accounts and keys)."""


@dataclass(frozen=True)
class Account:
    """An account as the monthly access review reads it."""

    username: str
    kind: str
    roles: list[str]
    expires_on: dt.date | None
    disabled: bool
    expired: bool
    last_login_at: dt.datetime | None
    created_by: str
    lang: str | None = None
    """The language chosen in the rooms (None: the installation's)."""
    municipality: str | None = None
    """The municipality whose documents the person works on (None: the installation's)."""

    @classmethod
    def of(cls, person: accounts.Person) -> Account:
        return cls(person.username, person.kind, list(person.roles), person.expires_on,
                   person.disabled, person.expired(), person.last_login_at, person.created_by,
                   person.lang, person.municipality)

    @property
    def state(self) -> str:
        return "disabled" if self.disabled else "expired" if self.expired else "active"


def sign_in(settings: Settings, username: str, password: str, enrol: bool = False) -> SignedIn:
    """Open a session; every attempt is an audit entry, a refused one too. A person with a
    second factor gets a session that opens nothing until the TOTP code is typed
    (access.check_second_factor); with `enrol` (the rooms, where the secret can be shown)
    so does a person whose duty needs one and who has none yet."""
    ready(settings)
    refused: SignInRefused | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            signed = accounts.sign_in(session, username, password, settings.session_minutes,
                                      settings.login_max_failures,
                                      settings.login_lockout_minutes)
        except SignInRefused as error:
            refused = error  # the refusal's audit entry commits with this transaction
        else:
            signed = _second_factor(session, signed, enrol)
    anchor(settings)
    if refused is not None:
        raise refused
    return signed


def _second_factor(session: Session, signed: SignedIn, enrol: bool) -> SignedIn:
    login = session.scalars(select(accounts.LoginSession).where(
        accounts.LoginSession.token_sha256 == accounts.token_digest(signed.token))).one()
    factor = session.get(SecondFactor, login.person_id)
    if factor is not None and factor.enrolled_at is not None:
        step = "code"
    elif enrol and accounts.SECOND_FACTOR_DUTIES & set(signed.roles):
        step = "enrol"
    else:
        return signed
    login.awaiting_second_factor = True
    return replace(signed, second_factor=step)


def sign_out(settings: Settings, token: str) -> str | None:
    """End the session of `token`; the user name it belonged to (None: no such session)."""
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        person = accounts.sign_out(session, token)
        username = person.username if person else None
    anchor(settings)
    return username


def whoami(settings: Settings, token: Token) -> Account:
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        return Account.of(accounts.current(session, token() if callable(token) else token))


def add_account(settings: Settings, token: Token, username: str, roles: list[str],
                password: str, expires_on: dt.date | None = None,
                os_user: str = "", municipality: str | None = None) -> Account:
    """Add a person's account (security administrator). The very first account of an
    installation must be a security administrator; it is added by the operating-system
    user `os_user`, with no sign-in."""
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        first = not accounts.has_people(session)
        if first:
            if accounts.SECURITY_ADMIN not in roles:
                raise InvalidInput(_(
                    "there is no account yet: the first one must be a security administrator "
                    "(--role security_admin)"))
            account = Account.of(accounts.add_person(
                session, Actor("bootstrap", f"os-user:{os_user}"), username, roles, password,
                expires_on, municipality))
    if first:
        anchor(settings)
        return account
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.add_person(work.session, work.actor, username, roles,
                                              password, expires_on, municipality))


def disable_account(settings: Settings, token: Token, username: str) -> Account:
    """Disable an account at once (transfer, leaving); its sessions end."""
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.disable(work.session, work.actor, username))


def enable_account(settings: Settings, token: Token, username: str) -> Account:
    """Enable an account again (also lifts a lock after wrong passwords)."""
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.enable(work.session, work.actor, username))


def set_roles(settings: Settings, token: Token, username: str, roles: list[str]) -> Account:
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.set_roles(work.session, work.actor, username, roles))


def set_expiry(settings: Settings, token: Token, username: str,
               expires_on: dt.date | None) -> Account:
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.set_expiry(work.session, work.actor, username, expires_on))


def set_municipality(settings: Settings, token: Token, username: str,
                     municipality: str | None) -> Account:
    """Bind an account to the municipality whose documents it works on (None: the
    installation's own): where offices share one installation, each sees its own."""
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.set_municipality(work.session, work.actor, username,
                                                    municipality))


def set_password(settings: Settings, token: Token, username: str, password: str) -> Account:
    with acting(settings, token, "users.manage") as work:
        return Account.of(accounts.set_password(work.session, work.actor, username, password))


def list_accounts(settings: Settings, token: Token) -> list[Account]:
    """Every account with duties, expiry and last sign-in (the monthly access review),
    the service identity last."""
    with acting(settings, token, "users.read", "user.list") as work:
        service = accounts.find(work.session, SERVICE_NAME)
        found = [Account.of(p) for p in
                 [*accounts.people(work.session), *([service] if service else [])]]
        work.audit("user.list", result="ok", detail={"accounts": len(found)})
    return found


DEMO_MARKER = "demo-installation"
"""Left in the data directory by `kura demo`: the demo may come back to a directory it made."""


def _holds_records(session: Session) -> bool:
    return session.scalars(select(StoredObject.id).limit(1)).first() is not None


DEMO_ACCOUNTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("demo-clerk", ("scanning_clerk",)),
    ("demo-verifier", ("verifier",)),
    ("demo-checker", ("checker",)),
    ("demo-records", ("records_manager",)),
    ("demo-admin", ("security_admin",)),
    ("demo-backup", ("backup_operator",)),
    ("demo-auditor", ("auditor",)),
)


@dataclass(frozen=True)
class DemoPeople:
    accounts: list[tuple[str, str, str]]
    """(user, duties, fresh password) of each demo account."""
    clerk: SignedIn
    """The demo clerk, signed in."""


def demo_people(settings: Settings, os_user: str) -> DemoPeople:
    """Create (or reset) the demo accounts with fresh passwords and sign in the demo clerk
    (`kura demo` on the embedded default)."""
    if settings.database_url or settings.s3_endpoint:
        raise Conflict(
            _("kura demo runs only on the embedded default, never on a configured installation"),
            hint=_("unset KURA_DATABASE_URL and KURA_S3_ENDPOINT and point KURA_DATA_DIR at an "
                   "empty folder to try the demo"))
    marker = settings.data_dir / DEMO_MARKER
    ready(settings)
    by = Actor("kura-demo", f"os-user:{os_user}")
    shown: list[tuple[str, str, str]] = []
    with session_scope(settings.sqlalchemy_url) as session:
        if not marker.exists() and (accounts.has_people(session) or _holds_records(session)):
            raise Conflict(
                _(
                    "kura demo runs only on a new installation or on one it made itself: this "
                    "one has accounts or records of its own"),
                hint=_("point KURA_DATA_DIR at an empty folder to try the demo"),
            )
        marker.touch()
        for username, roles in DEMO_ACCOUNTS:
            password = accounts.new_password()
            person = accounts.find(session, username)
            if person is None:
                accounts.add_person(session, by, username, list(roles), password)
            else:
                accounts.set_password(session, by, username, password)
                if person.disabled:
                    accounts.enable(session, by, username)
            shown.append((username, ", ".join(roles), password))
        signed = accounts.sign_in(session, "demo-clerk", shown[0][2], settings.session_minutes)
    anchor(settings)
    return DemoPeople(shown, signed)

