"""What the rooms keep about a person's sessions between requests, in the database so that
several web processes (and a restart) agree: the sign-in rate limit per client address, the
idle lock (control 58), and the language the person chose. The lockout after repeated wrong
passwords lives on the account (storage/accounts.py)."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, func, select

from schemas.errors import InvalidInput
from schemas.i18n import LANGUAGES
from schemas.settings import Settings
from storage.accounts import LoginSession, Person, current, token_digest
from storage.audit import Actor, append
from storage.db import session_scope
from storage.models import SignInAttempt, utcnow
from storage.usecases.base import anchor, ready

WINDOW = dt.timedelta(minutes=1)


def may_try(settings: Settings, client: str) -> bool:
    """Count one sign-in attempt from `client` (an address); False when it made
    settings.signin_per_minute already in the last minute. The address is kept as a digest
    only."""
    per_minute = settings.signin_per_minute
    ready(settings)
    digest = hashlib.sha256(f"kura-client/{client}".encode()).hexdigest()
    now = utcnow()
    with session_scope(settings.sqlalchemy_url) as session:
        session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - WINDOW))
        tried = session.scalar(select(func.count()).select_from(SignInAttempt).where(
            SignInAttempt.client_sha256 == digest)) or 0
        if tried >= per_minute:
            return False
        session.add(SignInAttempt(client_sha256=digest, at=now))
        return True


SEEN_EVERY = dt.timedelta(seconds=1)
"""A session's last use is written at most this often (a page and its images are one use)."""


def still_awake(settings: Settings, token: str, idle_seconds: float) -> bool:
    """The rooms' idle lock: False, and the session ended (recorded), when it sat unused
    longer than `idle_seconds`; otherwise its last use is now. A session the rooms never
    served (a `kura login`) starts counting at its first page."""
    ready(settings)
    now = utcnow()
    with session_scope(settings.sqlalchemy_url) as session:
        login = session.scalars(select(LoginSession).where(
            LoginSession.token_sha256 == token_digest(token))).one_or_none()
        if login is None or login.revoked_at is not None:
            return True  # nothing to lock: signing in is refused further on
        last = login.last_seen_at
        last = last.replace(tzinfo=dt.UTC) if last and last.tzinfo is None else last  # SQLite
        if last is not None and (now - last).total_seconds() > idle_seconds:
            login.revoked_at = now
            person = session.get_one(Person, login.person_id)
            append(session, Actor(person.username, ",".join(person.roles)), "logout",
                   [person.id, login.id], result="idle")
            locked = True
        else:
            if last is None or now - last >= SEEN_EVERY:
                login.last_seen_at = now
            locked = False
    if locked:
        anchor(settings)
    return not locked


def choose_language(settings: Settings, token: str | None, lang: str) -> str:
    """The person's own language for every page of the rooms (KURA_LANG stays the
    installation's default for those who chose none). Anyone signed in chooses their own."""
    if lang not in LANGUAGES:
        raise InvalidInput(f"choose one of {', '.join(LANGUAGES)}")
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        person = current(session, token)
        person.lang = lang
        append(session, Actor(person.username, ",".join(person.roles)), "user.language",
               [person.id], result="ok", detail={"lang": lang})
    anchor(settings)
    return lang
