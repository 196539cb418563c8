"""Storage built from settings: the database URL, the object store and the vault."""

from __future__ import annotations

from functools import lru_cache

from schemas.settings import Settings
from storage.objects import DirectoryStore, ObjectStore, S3Store
from storage.vault import Vault


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
    """The vault with the keyring (current + previous KEKs), the blind-index key and the
    retention policy (storage/custody.py)."""
    from storage.custody import RetentionPolicy, load_indexer, load_keyring

    keyring = load_keyring(settings)
    return Vault(object_store(settings), keyring.current, keyring.previous,
                 indexer=load_indexer(settings, keyring),
                 retention=RetentionPolicy.from_settings(settings))
