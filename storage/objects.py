"""Object stores for ciphertext: a directory (embedded default) or an S3 bucket via minio.

Stores only ever see sealed bytes under opaque ids; encryption lives in storage.vault.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Protocol

from minio import Minio
from minio.error import S3Error

log = logging.getLogger(__name__)


class ObjectStore(Protocol):
    location: str

    def put(self, object_id: str, data: bytes) -> None: ...

    def get(self, object_id: str) -> bytes: ...

    def delete(self, object_id: str) -> None: ...


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, object_id: str) -> Path:
        return self.root / object_id[:2] / object_id

    def put(self, object_id: str, data: bytes) -> None:
        path = self._path(object_id)
        path.parent.mkdir(exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def get(self, object_id: str) -> bytes:
        return self._path(object_id).read_bytes()

    def delete(self, object_id: str) -> None:
        self._path(object_id).unlink(missing_ok=True)


class S3Store:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "us-east-1", secure: bool = False) -> None:
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            region=region, secure=secure)
        self.bucket = bucket
        self.location = f"s3://{bucket} at {endpoint}"
        self.object_lock = self._ensure_bucket()

    def _ensure_bucket(self) -> bool:
        """Create the bucket with Object Lock where the server supports it."""
        if self.client.bucket_exists(self.bucket):
            return self._has_object_lock()
        try:
            self.client.make_bucket(self.bucket, object_lock=True)
            return True
        except S3Error as error:
            log.warning("bucket created without Object Lock: server said %s", error.code)
            self.client.make_bucket(self.bucket)
            return False

    def _has_object_lock(self) -> bool:
        try:
            self.client.get_object_lock_config(self.bucket)
            return True
        except S3Error:
            return False

    def put(self, object_id: str, data: bytes) -> None:
        self.client.put_object(self.bucket, object_id, io.BytesIO(data), len(data))

    def get(self, object_id: str) -> bytes:
        response = self.client.get_object(self.bucket, object_id)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, object_id: str) -> None:
        self.client.remove_object(self.bucket, object_id)
