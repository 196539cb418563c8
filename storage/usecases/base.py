"""The frame every use case runs in: who acts, under which duty, in which transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from schemas.settings import Settings
from storage.audit import SERVICE, Actor, AuditEntry, append, checkpoint_if_due
from storage.db import session_scope
from storage.vault import Vault


@dataclass
class Work:
    """One use case in progress: its transaction, the acting person and duty, and the
    storehouse. Audit entries appended here commit with the work or not at all."""

    session: Session
    actor: Actor
    settings: Settings
    person_id: str | None = None
    _vault: Vault | None = field(default=None, repr=False)

    @cached_property
    def vault(self) -> Vault:
        if self._vault is not None:
            return self._vault
        from storage.runtime import vault_for

        return vault_for(self.settings)

    def audit(self, action: str, object_ids: Iterable[str] = (), **details: Any) -> AuditEntry:
        return append(self.session, self.actor, action, object_ids, **details)


@contextmanager
def acting(settings: Settings, token: str | None, permission: str) -> Iterator[Work]:
    """The signed-in person behind `token` doing `permission`, in one transaction.

    Raises NotSignedIn or NotAllowed after writing the refusal to the audit chain."""
    from storage.accounts import NotAllowed, NotSignedIn, current, duty_for

    refusal: Exception | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            person = current(session, token)
            actor = Actor(person.username, duty_for(person, permission))
            person_id = person.id
        except NotSignedIn as error:
            refusal = error
            append(session, Actor("anonymous", "-"), "access", result="denied:not_signed_in",
                   detail={"permission": permission})
        except NotAllowed as error:
            refusal = error
            append(session, Actor(person.username, ",".join(person.roles)), "access",
                   [person.id], result="denied:duty", detail={"permission": permission})
    if refusal is not None:
        checkpoint_if_due(settings)
        raise refusal
    with session_scope(settings.sqlalchemy_url) as session:
        yield Work(session, actor, settings, person_id)
    checkpoint_if_due(settings)


@contextmanager
def as_service(settings: Settings, vault: Vault | None = None) -> Iterator[Work]:
    """Work done by the pipeline itself (workers, the in-process runner, the hot folder)."""
    with session_scope(settings.sqlalchemy_url) as session:
        yield Work(session, SERVICE, settings, None, vault)
