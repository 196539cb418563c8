"""Keys (security administrator): list them, rotate the key-encryption key, retire an old
one, rebuild the blind indexes. Ids only, never a key, in results and audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.settings import Settings
from storage import keys
from storage.blind_index import reindex_all
from storage.keys import KeyLine, Keyring, RotationReport, load_keyring, new_embedded_kek
from storage.register import reindex_identities
from storage.usecases.base import Token, acting


def init_keys(settings: Settings) -> Path:
    """The embedded default's keys, made once for a new installation (no sign-in: there is
    nobody yet, and there is nothing to protect)."""
    return keys.init_keys(settings)


def list_keys(settings: Settings, token: Token) -> list[KeyLine]:
    """Every key by id: purpose, state, and what it still wraps."""
    with acting(settings, token, "keys.manage", "keys.list") as work:
        lines = keys.key_listing(work.session, load_keyring(settings), work.indexer.id)
        work.audit("keys.list", result="ok", detail={"keys": len(lines)})
    return lines


@dataclass(frozen=True)
class Rotation:
    report: RotationReport
    keyring: Keyring
    """The keyring after the rotation (its previous keys are still to be retired)."""


def rotate_keys(settings: Settings, token: Token) -> Rotation:
    """Re-wrap every data key under the current KEK (the data is not re-encrypted).
    Embedded default: makes a new key file and keeps the old one as a previous key."""
    with acting(settings, token, "keys.manage", "keys.rotate") as work:
        keyring = load_keyring(settings)
        if keyring.embedded:
            keyring = new_embedded_kek(settings)
        report = keys.rotate_keys(work.session, keyring)
        work.audit("keys.rotate", [report.kek_id], result="ok",
                   detail={"objects": report.objects, "documents": report.documents,
                           "from": report.from_keks})
    return Rotation(report, keyring)


def retire_key(settings: Settings, token: Token, kek_id: str) -> str:
    """Retire a previous KEK; refused while any data key is still wrapped by it. Returns
    what the operator still has to do (may be empty)."""
    with acting(settings, token, "keys.manage", "keys.retire") as work:
        work.subject_ids = [kek_id]
        todo = keys.retire_key(work.session, settings, load_keyring(settings), kek_id,
                               work.actor.name)
        work.audit("keys.retire", [kek_id], result="ok")
    return todo


@dataclass(frozen=True)
class Reindexed:
    index_key_id: str
    indexes: int


def rebuild_indexes(settings: Settings, token: Token) -> Reindexed:
    """Rebuild every blind index with the configured index key (after changing it)."""
    with acting(settings, token, "keys.manage", "keys.reindex") as work:
        count = reindex_all(work.session, work.vault, work.indexer)
        count += reindex_identities(work.session, work.vault, work.indexer)
        work.audit("keys.reindex", [work.indexer.id], result="ok", detail={"indexes": count})
    return Reindexed(work.indexer.id, count)
