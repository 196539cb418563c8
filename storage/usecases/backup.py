"""Backup and restore (backup operator): an encrypted, checksummed archive of the whole
installation, and its restore into an empty one."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from schemas.errors import InvalidInput
from schemas.i18n import _
from schemas.settings import Settings
from storage import backup, restore
from storage.accounts import duty_for, find, sign_in
from storage.audit import Actor, append
from storage.backup import BackupSummary
from storage.checkpoints import checkpoint_store
from storage.db import session_scope
from storage.restore import RestoreSummary
from storage.runtime import indexer_for, vault_for
from storage.usecases.base import Token, anchor, signed_in


def make_backup(settings: Settings, token: Token, out: Path) -> BackupSummary:
    """Write the archive to `out` (and `out`.sha256). The keys are not in it. The start
    and the end are audit entries of their own: the archive holds the first."""
    actor, _role = signed_in(settings, token, "backup")
    if out.exists():
        raise InvalidInput(_("{out} exists; choose a new name").format(out=out), hint="--out")
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, "backup.start", result="ok")
    summary = backup.backup(settings.sqlalchemy_url, vault_for(settings), out,
                            checkpoint_store(settings))
    with session_scope(settings.sqlalchemy_url) as session:
        append(session, actor, "backup", result="ok",
               detail={"sha256": summary.sha256, "size": summary.size,
                       "rows": sum(summary.tables.values()), "objects": summary.objects})
    anchor(settings)
    return summary


def restore_backup(settings: Settings, archive: Path, username: str,
                   password: str) -> RestoreSummary:
    """Restore `archive` into this EMPTY installation (refused otherwise). A backup operator
    of the archived accounts signs in to confirm, inside the restoring transaction, and the
    restore is recorded in the restored chain."""
    if not archive.is_file():
        raise InvalidInput(_("{archive} does not exist").format(archive=archive), hint="ARCHIVE")
    archive_sha256 = _file_sha256(archive)

    def confirm(session: Session) -> None:
        signed = sign_in(session, username, password, 1)
        person = find(session, signed.username)
        assert person is not None
        actor = Actor(person.username, duty_for(person, "restore"))
        append(session, actor, "restore", result="ok", detail={"archive_sha256": archive_sha256})

    summary = restore.restore(settings.sqlalchemy_url, vault_for(settings), archive, confirm,
                             checkpoint_store(settings), indexer_for(settings).id)
    anchor(settings)
    return summary


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
