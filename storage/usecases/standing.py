"""Where an installation stands, for `kura` typed alone: who is signed in here, and the two
counts that say what waits (documents for verification, files in quarantine), each given
only to a person whose duty reads it. Counts carry no personal value and open nothing, so
this is not an audit entry; an ended or missing session is an answer, not a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from schemas.errors import NotSignedIn
from schemas.settings import Settings
from storage import accounts
from storage.db import session_scope
from storage.models import Document, SourceFile
from storage.queries import WAITING
from storage.usecases.base import Token, ready
from storage.usecases.quarantine import OPEN_STATES


@dataclass(frozen=True)
class Standing:
    has_people: bool
    """False on a new installation: its first account is still to be made."""
    username: str | None = None
    roles: list[str] = field(default_factory=list)
    waiting: int | None = None
    """Documents waiting for verification; None where the person's duty does not read it."""
    quarantined: int | None = None
    """Files held in quarantine; None where the person's duty does not read it."""

    def may(self, permission: str) -> bool:
        return bool(accounts.PERMISSIONS[permission] & set(self.roles))


def standing(settings: Settings, token: Token) -> Standing:
    ready(settings)
    with session_scope(settings.sqlalchemy_url) as session:
        if not accounts.has_people(session):
            return Standing(has_people=False)
        try:
            person = accounts.current(session, token() if callable(token) else token)
        except NotSignedIn:
            return Standing(has_people=True)
        known = Standing(True, person.username, list(person.roles))
        waiting = quarantined = None
        if known.may("queue.read"):
            waiting = session.scalar(
                select(func.count()).select_from(Document).where(Document.status.in_(WAITING)))
        if known.may("quarantine.manage"):
            quarantined = session.scalar(
                select(func.count()).select_from(SourceFile)
                .where(SourceFile.quarantine_state.in_(OPEN_STATES)))
        return Standing(True, known.username, known.roles, waiting, quarantined)
