"""Storage built from settings: the object store, the vault, the blind indexer and the
retention policy."""

from __future__ import annotations

import os
from functools import lru_cache

from schemas.settings import Settings
from storage.blind_index import BlindIndexer, load_indexer
from storage.keys import load_keyring
from storage.objects import DirectoryStore, ObjectStore, S3Store
from storage.retention import RetentionPolicy
from storage.vault import Vault


def keep_private(settings: Settings) -> None:
    """Whatever this process writes is its owner's alone (files 0600, folders 0700), and the
    data and key folders admit nobody else, even if an older version made them readable."""
    os.umask(0o077)
    for folder in (settings.data_dir, settings.keys_dir):
        if folder.is_dir() and folder.stat().st_mode & 0o077:
            folder.chmod(0o700)


def object_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        return S3Store(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            settings.s3_region,
            settings.s3_secure,
        )
    return DirectoryStore(settings.objects_dir)


@lru_cache(maxsize=8)
def vault_for(settings: Settings) -> Vault:
    """The vault with the keyring (current + previous KEKs); originals are locked on
    arrival under the retention policy."""
    keyring = load_keyring(settings)
    return Vault(object_store(settings), keyring.current, keyring.previous,
                 intake_lock=retention_for(settings).intake_lock,
                 keyed=indexer_for(settings).content_digest)


@lru_cache(maxsize=8)
def indexer_for(settings: Settings) -> BlindIndexer:
    return load_indexer(settings)


@lru_cache(maxsize=8)
def retention_for(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy.from_settings(settings)
