"""Object stores for ciphertext: a directory (embedded default) or an S3 bucket via minio.

Stores only ever see sealed bytes under opaque ids; encryption lives in storage.vault.
Objects may carry a lock (retention until a moment, and/or a legal hold): an S3 bucket with
Object Lock enforces it itself; the directory store keeps the same rule in a side file, so
the embedded default refuses the same deletions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lock:
    """What protects an object from deletion: retention until a moment (in ``mode``), and a
    legal hold that lasts until it is turned off."""

    mode: str = "GOVERNANCE"
    """GOVERNANCE | COMPLIANCE"""
    retain_until: dt.datetime | None = None
    legal_hold: bool = False

    def holds(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.legal_hold or (self.retain_until is not None and self.retain_until > now)


class ObjectLocked(Exception):
    """The store refuses to delete an object under retention or legal hold."""


class ObjectStore(Protocol):
    location: str

    def put(self, object_id: str, data: bytes, lock: Lock | None = None) -> None: ...

    def put_pieces(self, object_id: str, pieces: Iterable[bytes], size: int,
                   lock: Lock | None = None) -> None:
        """Store `size` bytes given piece by piece, never holding them all at once."""

    def get(self, object_id: str) -> bytes: ...

    def open(self, object_id: str) -> BinaryIO:
        """The sealed bytes as a seekable file, never whole in memory; the caller closes it."""

    def delete(self, object_id: str) -> None:
        """Remove every version of the object; ObjectLocked while a lock holds."""

    def set_lock(self, object_id: str, lock: Lock) -> None:
        """Extend the retention to at least ``lock.retain_until``; set the legal hold."""

    def get_lock(self, object_id: str) -> Lock: ...

    def is_empty(self) -> bool: ...


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, object_id: str) -> Path:
        return self.root / object_id[:2] / object_id

    def _lock_path(self, object_id: str) -> Path:
        return self.root / object_id[:2] / f"{object_id}.lock"

    def put(self, object_id: str, data: bytes, lock: Lock | None = None) -> None:
        self.put_pieces(object_id, (data,), len(data), lock)

    def put_pieces(self, object_id: str, pieces: Iterable[bytes], size: int,
                   lock: Lock | None = None) -> None:
        path = self._path(object_id)
        path.parent.mkdir(exist_ok=True, mode=0o700)
        if lock is not None and self.get_lock(object_id).holds():
            raise ObjectLocked(f"object {object_id} is locked; it cannot be replaced")
        temporary = path.with_suffix(".part")
        try:
            with temporary.open("wb") as out:
                for piece in pieces:
                    out.write(piece)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.replace(temporary, path)
        if lock is not None:
            self._write_lock(object_id, lock)

    def get(self, object_id: str) -> bytes:
        return self._path(object_id).read_bytes()

    def open(self, object_id: str) -> BinaryIO:
        return self._path(object_id).open("rb")

    def delete(self, object_id: str) -> None:
        if self.get_lock(object_id).holds():
            raise ObjectLocked(f"object {object_id} is under retention or legal hold")
        self._path(object_id).unlink(missing_ok=True)
        self._lock_path(object_id).unlink(missing_ok=True)

    def set_lock(self, object_id: str, lock: Lock) -> None:
        current = self.get_lock(object_id)
        until = lock.retain_until
        if current.retain_until and (until is None or current.retain_until > until):
            until = current.retain_until
        self._write_lock(object_id, Lock(lock.mode, until, lock.legal_hold))

    def get_lock(self, object_id: str) -> Lock:
        try:
            saved = json.loads(self._lock_path(object_id).read_text())
        except FileNotFoundError:
            return Lock()
        until = saved.get("retain_until")
        return Lock(
            saved["mode"],
            dt.datetime.fromisoformat(until) if until else None,
            bool(saved["legal_hold"]),
        )

    def _write_lock(self, object_id: str, lock: Lock) -> None:
        path = self._lock_path(object_id)
        temporary = path.with_suffix(".lock-part")
        temporary.write_text(
            json.dumps(
                {
                    "mode": lock.mode,
                    "legal_hold": lock.legal_hold,
                    "retain_until": lock.retain_until.isoformat() if lock.retain_until else None,
                }
            )
        )
        os.replace(temporary, path)

    def is_empty(self) -> bool:
        return not any(p.is_file() for p in self.root.rglob("*"))


def read_object(client: Minio, bucket: str, name: str) -> bytes:
    """An object's bytes, with its connection handed back to the pool."""
    response = client.get_object(bucket, name)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def ensure_locked_bucket(client: Minio, bucket: str) -> bool:
    """Create `bucket` with Object Lock where the server supports it; whether it has it."""
    if client.bucket_exists(bucket):
        try:
            client.get_object_lock_config(bucket)
            return True
        except S3Error:
            return False
    try:
        client.make_bucket(bucket, object_lock=True)
        return True
    except S3Error as error:
        if error.code in MADE_BY_ANOTHER:  # two processes starting at once: one made it
            return ensure_locked_bucket(client, bucket)
        log.warning("bucket created without Object Lock: server said %s", error.code)
    try:
        client.make_bucket(bucket)
    except S3Error as error:
        if error.code not in MADE_BY_ANOTHER:
            raise
    return False


SPOOL_PIECE = 1 << 20

MADE_BY_ANOTHER = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")


class S3Store:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "us-east-1",
        secure: bool = False,
    ) -> None:
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, region=region, secure=secure
        )
        self.bucket = bucket
        self.location = f"s3://{bucket} at {endpoint}"
        self.object_lock = ensure_locked_bucket(self.client, bucket)

    def put(self, object_id: str, data: bytes, lock: Lock | None = None) -> None:
        self.put_pieces(object_id, (data,), len(data), lock)

    def put_pieces(self, object_id: str, pieces: Iterable[bytes], size: int,
                   lock: Lock | None = None) -> None:
        retention = None
        if lock is not None:
            if not self.object_lock:
                raise ObjectLocked(
                    f"{self.location} has no Object Lock: refusing to store "
                    "an object that must be locked"
                )
            if lock.retain_until is not None:
                retention = Retention(_mode(lock.mode), lock.retain_until)
        self.client.put_object(
            self.bucket,
            object_id,
            cast(BinaryIO, _PieceReader(iter(pieces))),  # read() is all it calls
            size,
            retention=retention,
            legal_hold=bool(lock and lock.legal_hold),
            num_parallel_uploads=1,  # parallel parts queue without bound: memory as the file
        )

    def get(self, object_id: str) -> bytes:
        return read_object(self.client, self.bucket, object_id)

    def open(self, object_id: str) -> BinaryIO:
        """Downloaded piece by piece into a temporary file of this machine: the sealed bytes
        only (nothing in clear touches the disk), read at random by the one who opened it,
        gone when it is closed."""
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
        response = self.client.get_object(self.bucket, object_id)
        try:
            for piece in response.stream(SPOOL_PIECE):
                spool.write(piece)
        except BaseException:
            spool.close()
            raise
        finally:
            response.close()
            response.release_conn()
        spool.seek(0)
        return cast(BinaryIO, spool)

    def exists(self, name: str) -> bool:
        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as error:
            if error.code not in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                raise
            return False
        return True

    def names(self) -> list[str]:
        return sorted(
            o.object_name
            for o in self.client.list_objects(self.bucket, recursive=True)
            if o.object_name
        )

    def delete(self, object_id: str) -> None:
        """Every version goes (a plain DELETE would only add a delete marker)."""
        versions = [
            item
            for item in self.client.list_objects(
                self.bucket, prefix=object_id, include_version=True
            )
            if item.object_name == object_id
        ]
        for item in versions:
            try:
                self.client.remove_object(self.bucket, object_id, version_id=item.version_id)
            except S3Error as error:
                if error.code == "AccessDenied":
                    raise ObjectLocked(
                        f"the store refuses to delete object {object_id}: "
                        "it is under retention or legal hold"
                    ) from None
                raise

    def set_lock(self, object_id: str, lock: Lock) -> None:
        current = self.get_lock(object_id)
        if lock.retain_until is not None and (
            current.retain_until is None or current.retain_until < lock.retain_until
        ):
            self.client.set_object_retention(
                self.bucket, object_id, Retention(_mode(lock.mode), lock.retain_until)
            )
        if lock.legal_hold and not current.legal_hold:
            self.client.enable_object_legal_hold(self.bucket, object_id)
        elif current.legal_hold and not lock.legal_hold:
            self.client.disable_object_legal_hold(self.bucket, object_id)

    def get_lock(self, object_id: str) -> Lock:
        mode, until = "GOVERNANCE", None
        try:
            retention = self.client.get_object_retention(self.bucket, object_id)
            if retention is not None and retention.retain_until_date is not None:
                mode, until = str(retention.mode), retention.retain_until_date
        except S3Error as error:
            if error.code not in NO_LOCK_CODES:
                raise
        try:
            hold = self.client.is_object_legal_hold_enabled(self.bucket, object_id)
        except S3Error as error:
            if error.code not in NO_LOCK_CODES:
                raise
            hold = False
        return Lock(mode, until, hold)

    def is_empty(self) -> bool:
        for _item in self.client.list_objects(self.bucket, include_version=True):
            return False
        return True


class _PieceReader:
    """A file to read over pieces as they come: the S3 client reads it a part at a time."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece
        cut = len(self.buffer) if size < 0 else size
        taken = bytes(self.buffer[:cut])
        del self.buffer[:cut]
        return taken


NO_LOCK_CODES = (
    "NoSuchObjectLockConfiguration",
    "ObjectLockConfigurationNotFoundError",
    "NoSuchObjectLegalHold",
    "InvalidRequest",
)
"""What S3 servers answer for an object that has no retention or legal hold set."""


def _mode(mode: str) -> str:
    if mode not in (GOVERNANCE, COMPLIANCE):
        raise ValueError(f"Object Lock mode must be {GOVERNANCE} or {COMPLIANCE}, not {mode}")
    return mode
