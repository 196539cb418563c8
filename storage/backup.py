"""No copies but backups: one encrypted, checksummed archive of the whole installation (its
restore into an empty one is storage/restore.py).

The archive holds every database row (JSON lines per table, portable between SQLite and
PostgreSQL) and every object as the store keeps it (sealed), with a manifest of row counts,
object ids and SHA-256 checksums. The whole stream is encrypted with AES-256-GCM under a
fresh archive key wrapped by the current KEK, in chunks whose associated data binds the
header, the chunk number and the end, so a changed, reordered, dropped or appended byte
stops the restore before anything is written. Keys are never in the archive: a restore needs
the KEK that wrapped the archive key (and every KEK the rows use) and the same blind-index
key, kept apart from the backups.

Layout: ``KURA-BACKUP\\n`` · 4-byte header length · header JSON (clear: format, date, KEK id,
wrapped archive key) · frames of 4-byte length + sealed chunk, the last one marked final.
Inside the encryption: a tar stream of ``db/<table>.jsonl``, ``objects/<id>`` and, last,
``manifest.json``. A ``<archive>.sha256`` file beside it lets anyone check a copy without the
key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import struct
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    inspect,
    select,
    text,
)

from schemas.errors import ExitCode, KuraError
from schemas.i18n import _
from storage.checkpoints import CheckpointStore
from storage.crypto import DecryptionError, new_data_key, open_sealed, seal, unwrap, wrap
from storage.db import get_engine
from storage.models import StoredObject
from storage.vault import Vault

MAGIC = b"KURA-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
SKIPPED_TABLES = frozenset({"alembic_version"})
SEED_ROWS: dict[str, tuple[str, Callable[[Mapping[str, Any]], bool]]] = {
    "audit_head": ("id", lambda row: row.get("seq") == 0),
    "person": ("username", lambda row: row.get("kind") == "service"),
}
"""Rows a fresh migration writes (the audit head at the genesis, the service identity):
they do not make an installation non-empty, and a restore puts the archived row in their
place (matched by the key column)."""


class BackupError(KuraError):
    """The backup or restore cannot go on; the message says why."""

    code = "backup"


class BackupCorrupt(BackupError):
    """The archive is not what was written: changed, truncated, or not a Kura backup."""

    code = "backup_corrupt"
    exit_code = ExitCode.damaged


class RestoreRefused(BackupError):
    """The target is not an empty installation, or lacks a key the archive needs."""

    code = "restore_refused"
    exit_code = ExitCode.refused


# --- The encrypted stream ----------------------------------------------------------------


def _chunk_aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + struct.pack(">Q?", index, final)


class _SealingWriter:
    """A write-only file that seals what it is given, chunk by chunk."""

    def __init__(self, raw: IO[bytes], key: bytes, header_digest: bytes) -> None:
        self.raw, self.key, self.header_digest = raw, key, header_digest
        self.buffer = bytearray()
        self.index = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), final=False)
            del self.buffer[:CHUNK]
        return len(data)

    def finish(self) -> None:
        self._emit(bytes(self.buffer), final=True)
        self.buffer.clear()

    def _emit(self, plain: bytes, final: bool) -> None:
        sealed = seal(self.key, plain, _chunk_aad(self.header_digest, self.index, final))
        self.raw.write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1


class _OpeningReader:
    """A read-only file over the sealed frames; any mismatch raises BackupCorrupt."""

    def __init__(self, raw: IO[bytes], key: bytes, header_digest: bytes) -> None:
        self.raw, self.key, self.header_digest = raw, key, header_digest
        self.buffer = b""
        self.index = 0
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        while not self.ended and (size < 0 or len(self.buffer) < size):
            self._next_chunk()
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _next_chunk(self) -> None:
        length_bytes = self.raw.read(4)
        if len(length_bytes) < 4:
            raise BackupCorrupt(_("the archive is truncated: its last chunk is missing"))
        (length,) = struct.unpack(">I", length_bytes)
        sealed = self.raw.read(length)
        if len(sealed) != length:
            raise BackupCorrupt(_("the archive is truncated inside a chunk"))
        for final in (False, True):
            try:
                plain = open_sealed(self.key, sealed,
                                    _chunk_aad(self.header_digest, self.index, final))
            except DecryptionError:
                continue
            self.index += 1
            self.buffer += plain
            if final:
                self.ended = True
                if self.raw.read(1):
                    raise BackupCorrupt(_("the archive has bytes after its final chunk"))
            return
        raise BackupCorrupt(_(
            "chunk {index} of the archive fails its authentication: the archive was changed or "
            "damaged").format(index=self.index))


# --- Rows as JSON lines --------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _decoder(column_type: Any) -> Callable[[Any], Any]:
    if isinstance(column_type, LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    if isinstance(column_type, DateTime):
        def moment(v: Any) -> Any:
            if v is None:
                return None
            parsed = dt.datetime.fromisoformat(v)
            return (parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None
                    else parsed.astimezone(dt.UTC))
        return moment
    if isinstance(column_type, Date):
        return lambda v: None if v is None else dt.date.fromisoformat(v)
    return lambda v: v


def _tables(connection: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return [t for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _revisions(connection: Connection) -> list[str]:
    if not inspect(connection).has_table("alembic_version"):
        return []
    return sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


# --- Backup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    sha256: str
    size: int
    tables: dict[str, int]
    objects: int
    created_at: str


class _HashingFile:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.hash, self.size = raw, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def _add(tar: tarfile.TarFile, name: str, source: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o600
    tar.addfile(info, source)


def backup(url: str, vault: Vault, out: Path,
           checkpoints: CheckpointStore | None = None) -> BackupSummary:
    """Write the archive to ``out`` (and ``out.sha256``), from one consistent snapshot of
    the database (REPEATABLE READ on PostgreSQL, one read transaction on SQLite), with the
    sealed objects and the signed audit checkpoints."""
    engine = get_engine(url)
    created = dt.datetime.now(dt.UTC).isoformat()
    archive_key = new_data_key()
    header = {
        "kind": "kura-backup", "format": FORMAT, "created_at": created,
        "source": engine.dialect.name, "kek_id": vault.kek.id,
        "wrapped_key": base64.b64encode(wrap(vault.kek, archive_key, "backup:" + created))
        .decode(),
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    header_digest = hashlib.sha256(header_bytes).digest()
    temporary = out.with_name(out.name + ".part")
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": created, "tables": {},
                                "objects": {}, "checkpoints": {}}
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")  # one snapshot for every table (WAL)
        else:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingFile(raw)
            hashing.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
            writer = _SealingWriter(hashing, archive_key, header_digest)  # type: ignore[arg-type]
            with tarfile.open(fileobj=writer, mode="w|") as tar:  # type: ignore[call-overload]
                manifest["revisions"] = _revisions(connection)
                for table in _tables(connection):
                    manifest["tables"][table.name] = _dump_table(connection, table, tar)
                manifest["key_ids"] = _key_ids(connection)
                stored = connection.execute(
                    select(StoredObject.id, StoredObject.destroyed_at, StoredObject.store_removed)
                    .order_by(StoredObject.id)).all()
                for object_id, destroyed_at, removed in stored:
                    if destroyed_at is not None or removed:
                        continue  # disposed: its key is gone, its bytes are noise
                    sealed = vault.store.get(object_id)
                    _add(tar, f"objects/{object_id}", io.BytesIO(sealed), len(sealed))
                    manifest["objects"][object_id] = {
                        "size": len(sealed), "sha256": hashlib.sha256(sealed).hexdigest()}
                for name in checkpoints.names() if checkpoints is not None else []:
                    signed = checkpoints.get(name)  # type: ignore[union-attr]
                    _add(tar, f"checkpoints/{name}", io.BytesIO(signed), len(signed))
                    manifest["checkpoints"][name] = {
                        "size": len(signed), "sha256": hashlib.sha256(signed).hexdigest()}
                body = json.dumps(manifest, sort_keys=True, indent=1).encode()
                _add(tar, "manifest.json", io.BytesIO(body), len(body))
            writer.finish()
            raw.flush()
            os.fsync(raw.fileno())
        connection.rollback()
    os.replace(temporary, out)
    digest = hashing.hash.hexdigest()
    Path(f"{out}.sha256").write_text(f"{digest}  {out.name}\n")
    return BackupSummary(out, digest, hashing.size,
                         {k: v["rows"] for k, v in manifest["tables"].items()},
                         len(manifest["objects"]), created)


def _dump_table(connection: Connection, table: Table, tar: tarfile.TarFile) -> dict[str, Any]:
    digest, rows = hashlib.sha256(), 0
    order = list(table.primary_key.columns) or list(table.columns)
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        for row in connection.execute(select(table).order_by(*order)).mappings():
            line = json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False,
                              sort_keys=True).encode() + b"\n"
            spool.write(line)
            digest.update(line)
            rows += 1
        size = spool.tell()
        spool.seek(0)
        _add(tar, f"db/{table.name}.jsonl", spool, size)
    return {"rows": rows, "sha256": digest.hexdigest(),
            "columns": sorted(c.name for c in table.columns)}


def _key_ids(connection: Connection) -> dict[str, list[str]]:
    """Which KEKs wrap the data keys in the rows, and which key made the blind indexes."""
    inspector = inspect(connection)
    keks: set[str] = set()
    for table in ("stored_object", "document"):
        if inspector.has_table(table):
            keks.update(k for k in connection.execute(
                text(f"SELECT DISTINCT kek_id FROM {table}")).scalars() if k)
    index: list[str] = []
    if inspector.has_table("blind_index"):
        index = sorted(connection.execute(
            text("SELECT DISTINCT key_id FROM blind_index")).scalars())
    return {"kek": sorted(keks), "index": index}


# --- Reading an archive -------------------------------------------------------------------------


@dataclass
class _Opened:
    header: dict[str, Any]
    reader: _OpeningReader
    raw: IO[bytes]


def _open_archive(path: Path, vault: Vault) -> _Opened:
    raw = path.open("rb")
    try:
        if raw.read(len(MAGIC)) != MAGIC:
            raise BackupCorrupt(_("{path} is not a Kura backup").format(path=path))
        (length,) = struct.unpack(">I", raw.read(4))
        header_bytes = raw.read(length)
        try:
            header = json.loads(header_bytes)
        except ValueError:
            raise BackupCorrupt(_("the archive header is damaged")) from None
        if header.get("kind") != "kura-backup" or header.get("format") != FORMAT:
            raise BackupCorrupt(_("not a Kura backup of a format this version reads"))
        kek = next((k for k in (vault.kek, *vault.previous) if k.id == header["kek_id"]), None)
        if kek is None:
            raise RestoreRefused(
                _(
                    "the archive key is wrapped by KEK {kek_id}, which is not configured here: "
                    "set it as KURA_KEK (or in KURA_KEK_PREVIOUS)").format(kek_id=header['kek_id']))
        try:
            archive_key = unwrap(kek, base64.b64decode(header["wrapped_key"], validate=True),
                                 "backup:" + header["created_at"])
        except (DecryptionError, ValueError, KeyError, TypeError):
            raise BackupCorrupt(_(
                "the archive header was changed: its key does not unwrap")) from None
        reader = _OpeningReader(raw, archive_key, hashlib.sha256(header_bytes).digest())
        return _Opened(header, reader, raw)
    except BaseException:
        raw.close()
        raise


def _members(opened: _Opened) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    try:
        with tarfile.open(fileobj=opened.reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                handle = tar.extractfile(member)
                if handle is None:
                    raise BackupCorrupt(_(
                        "unexpected entry {name} in the archive").format(name=member.name))
                yield member, handle
    except tarfile.TarError as error:
        raise BackupCorrupt(_(
            "the archive's contents are damaged: {error}").format(error=error)) from None
    # the tar end may leave padding unread: read to the final chunk, which checks it
    opened.reader.read()


def verify_archive(path: Path, vault: Vault) -> dict[str, Any]:
    """Read the whole archive, check every chunk and every checksum against the manifest;
    returns the manifest. Raises BackupCorrupt on the first difference."""
    sidecar = Path(f"{path}.sha256")
    if sidecar.exists():
        recorded = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
        whole = hashlib.sha256()
        with path.open("rb") as raw:
            while chunk := raw.read(1 << 20):
                whole.update(chunk)
        if whole.hexdigest() != recorded:
            raise BackupCorrupt(_(
                "{path} does not match the checksum in {name}").format(
                    path=path, name=sidecar.name))
    opened = _open_archive(path, vault)
    seen: dict[str, tuple[int, str]] = {}
    manifest: dict[str, Any] | None = None
    try:
        for member, handle in _members(opened):
            if member.name == "manifest.json":
                manifest = json.loads(handle.read())
                continue
            digest, lines = hashlib.sha256(), 0
            while block := handle.read(1 << 16):
                digest.update(block)
                lines += block.count(b"\n")
            seen[member.name] = (lines if member.name.startswith("db/") else member.size,
                                 digest.hexdigest())
    finally:
        opened.raw.close()
    if manifest is None:
        raise BackupCorrupt(_("the archive has no manifest"))
    expected = {f"db/{name}.jsonl": (t["rows"], t["sha256"])
                for name, t in manifest["tables"].items()}
    expected.update({f"objects/{oid}": (o["size"], o["sha256"])
                     for oid, o in manifest["objects"].items()})
    expected.update({f"checkpoints/{name}": (c["size"], c["sha256"])
                     for name, c in manifest["checkpoints"].items()})
    for name, (count, digest) in expected.items():
        if name not in seen:
            raise BackupCorrupt(_("{name} is listed in the manifest but missing").format(name=name))
        if seen[name] != (count, digest):
            raise BackupCorrupt(_(
                "the checksum of {name} does not match the manifest").format(name=name))
    extra = set(seen) - set(expected)
    if extra:
        raise BackupCorrupt(_(
            "entries not in the manifest: {value}").format(value=', '.join(sorted(extra))))
    return manifest
