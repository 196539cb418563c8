"""The admin room's own work, beside storage/usecases/people.py (accounts, duties, expiry):
the TOTP second factor the security administrator and the records manager sign in with, and
the monthly access review, signed off and kept (DOMAIN §6.1: controls 1–13; §8.2)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import asdict, dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.errors import Conflict, InvalidInput, Refused
from schemas.i18n import _
from schemas.settings import Settings
from storage import accounts
from storage.audit import Actor, append, canonical
from storage.crypto import unwrap, wrap
from storage.db import session_scope
from storage.models import AccessReview, SecondFactor
from storage.runtime import vault_for
from storage.usecases.base import acting

DORMANT_DAYS = 90
"""An account nobody signed in with for this long is flagged in the access review."""
ISSUER = "Kura"


class AccessError(Conflict):
    code = "access"


class SecondFactorRefused(Refused):
    """The TOTP code was wrong or used already: the sign-in ends unopened."""

    code = "second_factor"


# --- Second factor ------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    """Base32, shown once to be typed into an authenticator app."""
    uri: str
    """The otpauth:// URI (the same, for apps that read it)."""


def second_factor_enrolled(settings: Settings, token: str | None) -> bool:
    with session_scope(settings.sqlalchemy_url) as session:
        person = _person(session, token)
        factor = session.get(SecondFactor, person.id)
        return factor is not None and factor.enrolled_at is not None


def begin_enrolment(settings: Settings, token: str | None) -> Enrolment:
    """A new secret for a person with no second factor yet (kept until the first code)."""
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        person = _person(session, token)
        if not accounts.SECOND_FACTOR_DUTIES & set(person.roles):
            # else a stolen session could set a factor up and lock its person out
            raise AccessError(_("your duties sign in without a second factor"))
        factor = session.get(SecondFactor, person.id)
        if factor is not None and factor.enrolled_at is not None:
            raise AccessError(_(
                "a second factor is already set up: ask the security administrator to reset it"))
        if factor is None:  # offered again until its first code: any page shows the same
            secret = pyotp.random_base32()
            session.add(SecondFactor(person_id=person.id,
                                     wrapped_secret=wrap(vault.kek, secret.encode(), person.id),
                                     kek_id=vault.kek.id))
        else:
            secret = unwrap(vault.kek_for(factor.kek_id), factor.wrapped_secret,
                            person.id).decode()
        append(session, Actor(person.username, ",".join(person.roles)),
               "second_factor.offer", [person.id], result="ok")
        uri = pyotp.TOTP(secret).provisioning_uri(name=person.username, issuer_name=ISSUER)
        return Enrolment(secret, uri)


def check_second_factor(settings: Settings, token: str | None, code: str) -> bool:
    """True when `code` is the person's current TOTP code (one step either side for clock
    drift), used for the first time. The first good code completes an enrolment."""
    vault = vault_for(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        person = _person(session, token)
        actor = Actor(person.username, ",".join(person.roles))
        factor = session.get(SecondFactor, person.id)
        if factor is None:
            raise AccessError(_("no second factor is set up yet"))
        secret = unwrap(vault.kek_for(factor.kek_id), factor.wrapped_secret, person.id).decode()
        totp, now = pyotp.TOTP(secret), time.time()
        step = next((int(now // 30) + drift for drift in (0, -1, 1)
                     if totp.at(now + drift * 30) == code.strip()), None)
        good = step is not None and step > factor.last_step
        if good and step is not None:
            factor.last_step = step
            if factor.enrolled_at is None:
                factor.enrolled_at = dt.datetime.now(dt.UTC)
            login = session.scalars(select(accounts.LoginSession).where(
                accounts.LoginSession.token_sha256 == accounts.token_digest(token or ""))).one()
            login.awaiting_second_factor = False  # the session opens now
        append(session, actor, "login.second_factor", [person.id],
               result="ok" if good else "denied:bad_code")
        return good


def _person(session: Session, token: str | None) -> accounts.Person:
    return accounts.current(session, token, second_factor_step=True)


# --- Accounts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    username: str
    roles: list[str]
    expires_on: str | None
    disabled: bool
    last_sign_in: str | None
    dormant: bool
    second_factor: bool
    municipality: str | None = None
    """The municipality whose documents the person works on (None: the installation's)."""


def account_list(settings: Settings, token: str | None) -> list[Account]:
    with acting(settings, token, "users.read") as work:
        found = _accounts(work.session)
        work.audit("users.list", result="ok", detail={"accounts": len(found)})
        return found


def _accounts(session: Session) -> list[Account]:
    enrolled = set(session.scalars(select(SecondFactor.person_id).where(
        SecondFactor.enrolled_at.is_not(None))))
    now = dt.datetime.now(dt.UTC)
    lines = []
    for person in accounts.people(session):
        last = person.last_login_at
        last = last.replace(tzinfo=dt.UTC) if last is not None and last.tzinfo is None else last
        dormant = last is None or (now - last).days >= DORMANT_DAYS
        lines.append(Account(
            person.username, list(person.roles),
            person.expires_on.isoformat() if person.expires_on else None, person.disabled,
            last.strftime("%Y-%m-%d %H:%M") if last else None, dormant and not person.disabled,
            person.id in enrolled, person.municipality))
    return lines


# --- The monthly access review --------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    month: str
    accounts: list[Account]
    signed_by: str | None
    signed_at: dt.datetime | None
    sha256: str | None
    note: str


def access_review(settings: Settings, token: str | None, month: str) -> Review:
    """This month's review: as signed off, or the accounts as they are now."""
    _check_month(month)
    with acting(settings, token, "users.read") as work:
        kept = work.session.scalars(
            select(AccessReview).where(AccessReview.month == month)).one_or_none()
        work.audit("access_review.read", result="ok", detail={"month": month})
        if kept is not None:
            lines = [Account(**line) for line in json.loads(kept.content)]
            return Review(month, lines, kept.signed_by, kept.signed_at, kept.sha256, kept.note)
        return Review(month, _accounts(work.session), None, None, None, "")


def sign_off_review(settings: Settings, token: str | None, month: str, note: str) -> str:
    """The security administrator signs the month's review off; it is kept as it was seen."""
    _check_month(month)
    with acting(settings, token, "users.manage") as work:
        if work.session.scalars(select(AccessReview.id).where(
                AccessReview.month == month)).first() is not None:
            raise AccessError(_(
                "the access review of {month} is already signed off").format(month=month))
        content = canonical([asdict(line) for line in _accounts(work.session)])
        digest = hashlib.sha256(content).hexdigest()
        review = AccessReview(month=month, content=content.decode(), sha256=digest,
                              note=note.strip(), signed_by=work.actor.name)
        work.session.add(review)
        work.session.flush()
        work.audit("access_review.sign_off", [review.id], result="ok",
                   detail={"month": month, "sha256": digest})
        return digest


def _check_month(month: str) -> None:
    try:
        dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InvalidInput(_("a month is written YYYY-MM")) from None
