"""The frame every use case runs in: who acts, under which duty, in which transaction.

A use case is one function in storage/usecases/<subject>.py: it opens `acting(...)` (or
`as_service(...)` for the pipeline's own work), checks what it must, acts on `work.session`,
appends its audit entry with `work.audit(...)` and returns a typed result. Front ends (the
CLI, the web rooms) only parse, call and render."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from schemas.errors import ExitCode, KuraError, NotAllowed, NotSignedIn
from schemas.settings import Settings
from storage.audit import SERVICE, Actor, AuditEntry, append
from storage.audit_words import FREE_TEXT, seal_detail, seal_words
from storage.blind_index import BlindIndexer
from storage.checkpoints import checkpoint_if_due
from storage.db import ensure_current, session_scope
from storage.retention import RetentionPolicy
from storage.vault import Vault

Token = str | None | Callable[[], str | None]
"""A session token, or how to read it (reading may itself be refused, e.g. a session file
that others may read: that refusal is audited like any other)."""


@dataclass
class Work:
    """One use case in progress: its transaction, the acting person and duty, and the
    storehouse. Audit entries appended here commit with the work or not at all."""

    session: Session
    actor: Actor
    settings: Settings
    person_id: str | None = None
    _vault: Vault | None = field(default=None, repr=False)
    action: str = ""
    """What a refusal of this work is recorded as (default: the permission)."""
    subject_ids: list[str] = field(default_factory=list)
    """The objects a refusal names, as far as the use case knows them when refused."""

    @cached_property
    def vault(self) -> Vault:
        if self._vault is not None:
            return self._vault
        from storage.runtime import vault_for

        return vault_for(self.settings)

    @cached_property
    def municipality(self) -> str:
        """The 全国地方公共団体コード whose documents this work sees and acts on: the
        person's own where they are bound to one (offices sharing an installation), else
        the installation's."""
        if self.person_id is not None:
            from storage.accounts import Person

            person = self.session.get(Person, self.person_id)
            if person is not None and person.municipality:
                return person.municipality
        return self.settings.municipality_code

    @cached_property
    def indexer(self) -> BlindIndexer:
        from storage.runtime import indexer_for

        return indexer_for(self.settings)

    @cached_property
    def retention(self) -> RetentionPolicy:
        from storage.runtime import retention_for

        return retention_for(self.settings)

    def audit(self, action: str, object_ids: Iterable[str] = (), *,
              purpose: str | None = None, detail: dict[str, Any] | None = None,
              result: str = "ok") -> AuditEntry:
        """Append an entry; the person's own words (the purpose, notes and reasons in the
        detail) enter the chain sealed, so they can be erased without breaking it."""
        if purpose:
            purpose = seal_words(self.session, self.vault, purpose)
        if detail and any(detail.get(key) for key in FREE_TEXT):
            detail = seal_detail(self.session, self.vault, detail)
        return append(self.session, self.actor, action, object_ids, result=result,
                      purpose=purpose, detail=detail)


def anchor(settings: Settings) -> None:
    """Sign the chain's head into the checkpoint store now. Every person's operation is
    anchored at once, outside the database: nothing a person did can be cut from the tail
    or rewritten without `kura audit verify` noticing."""
    checkpoint_if_due(settings, force=True)


def ready(settings: Settings) -> None:
    """The database is at this version of Kura (the embedded default upgrades itself)."""
    ensure_current(settings.sqlalchemy_url, settings)


def signed_in(settings: Settings, token: Token, permission: str) -> tuple[Actor, str]:
    """The actor behind `token` for `permission`, and their account id; a refusal is
    written to the audit chain (and committed) before NotSignedIn / NotAllowed is raised."""
    from storage.accounts import current, duty_for

    ready(settings)
    refusal: KuraError | None = None
    with session_scope(settings.sqlalchemy_url) as session:
        try:
            person = current(session, token() if callable(token) else token)
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
        anchor(settings)
        raise refusal
    return actor, person_id


@contextmanager
def acting(
    settings: Settings, token: Token, permission: str, action: str | None = None
) -> Iterator[Work]:
    """The signed-in person behind `token` doing `permission`, in one transaction.

    Raises NotSignedIn or NotAllowed after writing the refusal to the audit chain. When the
    work itself is refused by a rule (an error whose exit code is `refused`, e.g. a legal
    hold), its transaction is rolled back and the refusal is recorded as `action` with
    result `refused:<error>` in a transaction of its own."""
    actor, person_id = signed_in(settings, token, permission)
    work: Work | None = None
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            work = Work(session, actor, settings, person_id, action=action or permission)
            yield work
    except KuraError as error:
        if error.exit_code == ExitCode.refused and work is not None:
            with session_scope(settings.sqlalchemy_url) as session:
                append(session, actor, work.action, work.subject_ids,
                       result=f"refused:{type(error).__name__}")
        anchor(settings)
        raise
    anchor(settings)


@contextmanager
def as_service(settings: Settings, vault: Vault | None = None) -> Iterator[Work]:
    """Work done by the pipeline itself (workers, the in-process runner, the hot folder)."""
    with session_scope(settings.sqlalchemy_url) as session:
        yield Work(session, SERVICE, settings, None, vault)
