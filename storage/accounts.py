"""People and their duties: one account per person, argon2id passwords, optional expiry,
short-lived sign-in sessions, and the one named service identity that machine work runs as.

DOMAIN §6.1–6.2: no shared or role accounts (control 1–2), access by duty (8), expiry dates
for temporary staff with automatic lockout (13), the security administrator kept apart from
the business duties (§8.2), service identities that cannot sign in (2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from schemas.errors import ExitCode, InvalidInput, NotAllowed, NotSignedIn
from schemas.i18n import _
from storage.audit import SERVICE as SERVICE
from storage.audit import SERVICE_NAME, Actor, append
from storage.models import Base, new_id, utcnow

# --- Duties -------------------------------------------------------------------------------

SCANNING_CLERK = "scanning_clerk"
VERIFIER = "verifier"
CHECKER = "checker"
RECORDS_MANAGER = "records_manager"
SECURITY_ADMIN = "security_admin"
BACKUP_OPERATOR = "backup_operator"
AUDITOR = "auditor"
SECOND_FACTOR_DUTIES = frozenset({SECURITY_ADMIN, RECORDS_MANAGER})
"""Duties whose people sign in with a TOTP code as well (set up at their first sign-in)."""

ROLES: dict[str, str] = {
    SCANNING_CLERK: "creates intake items, scans, classifies (may be a contractor: set expiry)",
    VERIFIER: "corrects extracted fields (never confirms own change)",
    CHECKER: "second person: confirms corrections and deletions",
    RECORDS_MANAGER: "opens originals with a stated reason; requests disposal",
    SECURITY_ADMIN: "accounts and duties, key rotation, approves disposal (特権ID)",
    BACKUP_OPERATOR: "runs backups and restores",
    AUDITOR: "reads, searches and verifies the audit log; quarterly review report",
}
BUSINESS_ROLES = frozenset({SCANNING_CLERK, VERIFIER, CHECKER, RECORDS_MANAGER})
"""The duty of the service identity; never given to a person."""

PERMISSIONS: dict[str, frozenset[str]] = {
    # the duty → permission matrix (DOMAIN §6.2 control 9), machine-readable
    "intake": frozenset({SCANNING_CLERK}),
    "queue.read": frozenset({SCANNING_CLERK, VERIFIER, CHECKER, RECORDS_MANAGER}),
    "record.read": frozenset({VERIFIER, CHECKER, RECORDS_MANAGER}),
    "record.correct": frozenset({VERIFIER}),
    "record.confirm": frozenset({CHECKER}),
    "original.open": frozenset({RECORDS_MANAGER}),
    "audit.erase": frozenset({RECORDS_MANAGER}),
    "original.download": frozenset({RECORDS_MANAGER}),
    "disposal.request": frozenset({RECORDS_MANAGER}),
    "quarantine.manage": frozenset({RECORDS_MANAGER}),
    "disposal.approve": frozenset({SECURITY_ADMIN, RECORDS_MANAGER}),
    "retention.manage": frozenset({RECORDS_MANAGER}),
    "users.manage": frozenset({SECURITY_ADMIN}),
    "users.read": frozenset({SECURITY_ADMIN, AUDITOR}),
    "keys.manage": frozenset({SECURITY_ADMIN}),
    "backup": frozenset({BACKUP_OPERATOR}),
    "restore": frozenset({BACKUP_OPERATOR}),
    "audit.read": frozenset({AUDITOR}),
    "audit.verify": frozenset({AUDITOR, SECURITY_ADMIN}),
    "audit.checkpoint": frozenset({AUDITOR, SECURITY_ADMIN}),
    # the register, 進達 and 突合 (storage/usecases/register.py, transmittals.py,
    # reconciliation.py): the one who prepares or reconciles is never the one who releases
    # or confirms (enforced per batch and list, not by duty alone)
    "register.read": frozenset({SCANNING_CLERK, VERIFIER, CHECKER, RECORDS_MANAGER}),
    "transmittal.prepare": frozenset({VERIFIER, CHECKER, RECORDS_MANAGER}),
    "transmittal.release": frozenset({CHECKER, RECORDS_MANAGER}),
    "reconcile.run": frozenset({VERIFIER, CHECKER, RECORDS_MANAGER}),
    "reconcile.confirm": frozenset({CHECKER, RECORDS_MANAGER}),
}


USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 12

# Parameters are the argon2-cffi defaults (RFC 9106 low-memory profile): argon2id, t=3,
# m=64 MiB, p=4. They are stored in each hash, so raising them later needs no migration.
_hasher = PasswordHasher()


class AccountError(InvalidInput):
    """A request about accounts that cannot be done; the message is for the user."""

    code = "account"


class SignInRefused(AccountError):
    """Wrong name or password, or the account may not sign in now (reason kept for audit)."""

    code = "sign_in_refused"
    exit_code = ExitCode.refused

    def __init__(self, reason: str) -> None:
        super().__init__(_("sign-in refused: wrong user name or password, or the account is "
                         "disabled, expired or locked"))
        self.reason = reason


# --- Tables -------------------------------------------------------------------------------


class Person(Base):
    """One account: a person, or the service identity (kind=service, no password)."""

    __tablename__ = "person"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="person")
    """person | service"""
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    """Last day the account may be used (temporary staff, contractors)."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(40))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lang: Mapped[str | None] = mapped_column(String(5))
    """The language the person chose in the rooms; None: the installation's (KURA_LANG)."""
    municipality: Mapped[str | None] = mapped_column(String(6))
    """The 全国地方公共団体コード whose documents the person sees and acts on, where offices
    share one installation; None: the installation's own (KURA_MUNICIPALITY_CODE)."""

    def expired(self, today: dt.date | None = None) -> bool:
        return self.expires_on is not None and (today or dt.date.today()) > self.expires_on


class LoginSession(Base):
    """A short-lived sign-in; only the SHA-256 of the token is kept."""

    __tablename__ = "login_session"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When the rooms last served this session (the idle lock, control 58)."""
    awaiting_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    """The password was right, the TOTP code not typed yet: the session opens nothing."""


# --- Helpers ------------------------------------------------------------------------------


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; Kura writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccountError(_("unknown duty role {roles}; known: {known}").format(
            roles=", ".join(unknown), known=", ".join(ROLES)))
    if not roles:
        raise AccountError(_("give the account at least one duty role"))
    if SECURITY_ADMIN in roles and BUSINESS_ROLES & set(roles):
        raise AccountError(_("the security administrator is kept apart from the business "
                             "duties (scanning clerk, verifier, checker, records manager): "
                             "use a second account"))
    return sorted(set(roles), key=list(ROLES).index)


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(_("the password must be at least {count} characters").format(
            count=MIN_PASSWORD))
    if username.lower() in password.lower():
        raise AccountError(_("the password must not contain the user name"))


def new_password() -> str:
    """A random password for a new or reset account, to be changed or handed over."""
    return secrets.token_urlsafe(12)


def find(session: Session, username: str) -> Person | None:
    return session.scalars(select(Person).where(Person.username == username)).one_or_none()


def people(session: Session) -> list[Person]:
    return list(session.scalars(
        select(Person).where(Person.kind == "person").order_by(Person.username)))


def has_people(session: Session) -> bool:
    return session.scalars(select(Person.id).where(Person.kind == "person").limit(1)).first() \
        is not None


# --- Account changes (each one an audit entry) ----------------------------------------------


def add_person(session: Session, by: Actor, username: str, roles: list[str], password: str,
               expires_on: dt.date | None = None, municipality: str | None = None) -> Person:
    if not USERNAME.match(username):
        raise AccountError(_("a user name is 2–40 characters: lower-case letters, digits, "
                             "'.', '_' or '-', starting with a letter"))
    if username == SERVICE_NAME or username.startswith("svc-"):
        raise AccountError(_("names starting with 'svc-' are kept for service identities"))
    if find(session, username) is not None:
        raise AccountError(_("there is already an account {user}").format(user=username))
    roles = check_roles(roles)
    check_password(password, username)
    if expires_on is not None and expires_on < dt.date.today():
        raise AccountError(_("the expiry date is in the past"))
    person = Person(username=username, kind="person", roles=roles,
                    password_hash=_hasher.hash(password), expires_on=expires_on,
                    created_by=by.name, municipality=check_municipality(municipality))
    session.add(person)
    session.flush()
    append(session, by, "user.add", [person.id], result="ok",
           detail={"username": username, "roles": roles,
                   "expires_on": expires_on.isoformat() if expires_on else None,
                   **({"municipality": municipality} if municipality else {})})
    return person


def _person(session: Session, username: str) -> Person:
    person = find(session, username)
    if person is None or person.kind != "person":
        raise AccountError(_("no account {user}").format(user=username))
    return person


def disable(session: Session, by: Actor, username: str) -> Person:
    person = _person(session, username)
    if person.username == by.name:
        raise AccountError(_("an administrator cannot disable their own account"))
    person.disabled = True
    revoked = revoke_sessions(session, person)
    append(session, by, "user.disable", [person.id], result="ok",
           detail={"username": username, "sessions_revoked": revoked})
    return person


def enable(session: Session, by: Actor, username: str) -> Person:
    person = _person(session, username)
    person.disabled, person.failed_logins, person.locked_until = False, 0, None
    append(session, by, "user.enable", [person.id], result="ok", detail={"username": username})
    return person


def set_roles(session: Session, by: Actor, username: str, roles: list[str]) -> Person:
    person = _person(session, username)
    before = list(person.roles)
    person.roles = check_roles(roles)
    revoke_sessions(session, person)
    append(session, by, "user.roles", [person.id], result="ok",
           detail={"username": username, "before": before, "after": person.roles})
    return person


def set_expiry(session: Session, by: Actor, username: str, expires_on: dt.date | None) -> Person:
    person = _person(session, username)
    person.expires_on = expires_on
    append(session, by, "user.expiry", [person.id], result="ok",
           detail={"username": username,
                   "expires_on": expires_on.isoformat() if expires_on else None})
    return person


MUNICIPALITY = re.compile(r"^[0-9]{6}$")


def check_municipality(municipality: str | None) -> str | None:
    if municipality is not None and not MUNICIPALITY.match(municipality):
        raise AccountError(_("a 全国地方公共団体コード is 6 digits, e.g. 011002"))
    return municipality


def set_municipality(session: Session, by: Actor, username: str,
                     municipality: str | None) -> Person:
    """Bind a person to the municipality whose documents they work on (None: the
    installation's own). Read at every call, so it holds from the person's next step."""
    person = _person(session, username)
    before = person.municipality
    person.municipality = check_municipality(municipality)
    append(session, by, "user.municipality", [person.id], result="ok",
           detail={"username": username, "before": before, "after": municipality})
    return person


def set_password(session: Session, by: Actor, username: str, password: str) -> Person:
    person = _person(session, username)
    check_password(password, username)
    person.password_hash = _hasher.hash(password)
    person.failed_logins, person.locked_until = 0, None
    revoke_sessions(session, person)
    append(session, by, "user.password", [person.id], result="ok",
           detail={"username": username})
    return person


def revoke_sessions(session: Session, person: Person) -> int:
    open_sessions = session.scalars(select(LoginSession).where(
        LoginSession.person_id == person.id, LoginSession.revoked_at.is_(None))).all()
    for login in open_sessions:
        login.revoked_at = utcnow()
    return len(open_sessions)


# --- Signing in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    token: str
    """Shown once, to be kept by the client (mode 0600); the database keeps its SHA-256."""
    username: str
    roles: list[str]
    expires_at: dt.datetime
    second_factor: str = ""
    """"code": the session opens once the TOTP code is typed; "enrol": the second factor is
    set up first (the rooms); "": none needed."""


SECOND_FACTOR_SECONDS = 300
"""How long a checked password waits for its TOTP code."""


def sign_in(session: Session, username: str, password: str, minutes: int,
            max_failures: int = 5, lockout_minutes: int = 15) -> SignedIn:
    """Check the password and open a session. Every attempt is an audit entry; a refusal
    raises SignInRefused *after* its entry is written (the caller must still commit)."""
    person = find(session, username)
    now = utcnow()
    if person is None:
        _spend_time()
        _refuse(session, Actor("unknown", "-"), [], "no_such_account")
    assert person is not None
    actor = Actor(person.username, ",".join(person.roles))
    if person.kind != "person" or person.password_hash is None:
        _refuse(session, actor, [person.id], "service_identity")
    if person.locked_until is not None and _aware(person.locked_until) > now:
        _spend_time()
        _refuse(session, actor, [person.id], "locked")
    try:
        _hasher.verify(person.password_hash or "", password)
    except (VerificationError, InvalidHashError):
        person.failed_logins += 1
        reason = "bad_password"
        if person.failed_logins >= max_failures:
            person.locked_until = now + dt.timedelta(minutes=lockout_minutes)
            person.failed_logins = 0
            reason = "bad_password_locked"
        _refuse(session, actor, [person.id], reason)
    if person.disabled:
        _refuse(session, actor, [person.id], "disabled")
    if person.expired():
        _refuse(session, actor, [person.id], "expired")
    if _hasher.check_needs_rehash(person.password_hash or ""):
        person.password_hash = _hasher.hash(password)
    person.failed_logins, person.locked_until, person.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(minutes=minutes)
    login = LoginSession(person_id=person.id, token_sha256=token_digest(token),
                         created_at=now, expires_at=expires_at)
    session.add(login)
    session.flush()
    append(session, actor, "login", [person.id, login.id], result="ok")
    return SignedIn(token, person.username, list(person.roles), expires_at)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of nothing, made when first needed (hashing takes a while on purpose)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _spend_time() -> None:
    """As long as a real check, so timing does not tell which names exist."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), "not the password")


def _refuse(session: Session, actor: Actor, object_ids: list[str], reason: str) -> None:
    append(session, actor, "login", object_ids, result=f"denied:{reason}")
    raise SignInRefused(reason)


def sign_out(session: Session, token: str) -> Person | None:
    login = session.scalars(
        select(LoginSession).where(LoginSession.token_sha256 == token_digest(token))
    ).one_or_none()
    if login is None:
        return None
    person = session.get_one(Person, login.person_id)
    if login.revoked_at is None:
        login.revoked_at = utcnow()
    append(session, Actor(person.username, ",".join(person.roles)), "logout",
           [person.id, login.id], result="ok")
    return person


def current(session: Session, token: str | None, second_factor_step: bool = False) -> Person:
    """The person a session token belongs to, if the session and the account are valid. A
    session still waiting for its TOTP code is valid only for typing that code
    (`second_factor_step`)."""
    if not token:
        raise NotSignedIn(_("not signed in: run `kura login NAME` first"))
    login = session.scalars(
        select(LoginSession).where(LoginSession.token_sha256 == token_digest(token))
    ).one_or_none()
    if login is None or login.revoked_at is not None:
        raise NotSignedIn(_("your session has ended: run `kura login NAME` again"))
    if _aware(login.expires_at) <= utcnow():
        raise NotSignedIn(_("your session has expired: run `kura login NAME` again"))
    if login.awaiting_second_factor and (
            _aware(login.created_at) + dt.timedelta(seconds=SECOND_FACTOR_SECONDS) <= utcnow()):
        raise NotSignedIn(_("the second-factor code came too late: sign in again"))
    if login.awaiting_second_factor and not second_factor_step:
        raise NotSignedIn(_("the sign-in waits for its second-factor code: sign in again"))
    person = session.get_one(Person, login.person_id)
    if person.disabled or person.expired() or person.kind != "person":
        raise NotSignedIn(_("the account {user} is disabled or expired").format(
            user=person.username))
    return person


def duty_for(person: Person, permission: str) -> str:
    """The duty role under which `person` may do `permission`, or NotAllowed."""
    allowed = PERMISSIONS[permission]
    for role in person.roles:
        if role in allowed:
            return role
    wanted = _(" or ").join(_(r.replace("_", " ")) for r in ROLES if r in allowed)
    raise NotAllowed(_("{user} may not do this ({permission}): it needs the {duty} duty")
                     .format(user=person.username, permission=permission, duty=wanted))
