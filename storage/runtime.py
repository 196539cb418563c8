"""Storage built from settings: the database URL, the object store and the vault."""

from __future__ import annotations

from functools import lru_cache

from kura.settings import Settings
from storage.keys import load_kek
from storage.objects import DirectoryStore, ObjectStore, S3Store
from storage.vault import Vault


def object_store(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        return S3Store(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                       settings.s3_bucket, settings.s3_region, settings.s3_secure)
    return DirectoryStore(settings.objects_dir)


@lru_cache(maxsize=8)
def vault_for(settings: Settings) -> Vault:
    return Vault(object_store(settings), load_kek(settings.kek, settings.data_dir))
