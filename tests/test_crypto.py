"""Envelope encryption and the vault over a directory store."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from storage.blind_index import BlindIndexer
from storage.crypto import (
    OBJECT_CHUNK,
    DecryptionError,
    Kek,
    StreamChanged,
    new_data_key,
    open_sealed,
    open_sealed_stream,
    seal,
    seal_stream,
    sealed_size,
    unwrap,
    wrap,
)
from storage.db import get_engine, upgrade
from storage.objects import DirectoryStore
from storage.vault import IntegrityError, Vault


def test_sealed_data_opens_only_with_its_key_and_associated_data() -> None:
    key = new_data_key()
    sealed = seal(key, b"secret", b"object-1")
    assert open_sealed(key, sealed, b"object-1") == b"secret"
    with pytest.raises(DecryptionError):
        open_sealed(key, sealed, b"object-2")
    with pytest.raises(DecryptionError):
        open_sealed(new_data_key(), sealed, b"object-1")


def test_a_wrapped_key_is_bound_to_its_owner() -> None:
    kek, data_key = Kek.generate(), new_data_key()
    wrapped = wrap(kek, data_key, "doc-1")
    assert unwrap(kek, wrapped, "doc-1") == data_key
    with pytest.raises(DecryptionError):
        unwrap(kek, wrapped, "doc-2")
    with pytest.raises(DecryptionError):
        unwrap(Kek.generate(), wrapped, "doc-1")


def test_kek_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Kek.from_base64("c2hvcnQ=")


@pytest.fixture
def vault_session(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kura.db'}"
    upgrade(url)
    with Session(get_engine(url)) as session:
        yield Vault(DirectoryStore(tmp_path / "objects"), Kek.generate(),
                    keyed=BlindIndexer(os.urandom(32)).content_digest), session


def test_vault_stores_ciphertext_and_reads_back_identical(vault_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    plaintext = b"%PDF-1.4 " + "山田太郎 123456789018".encode() * 20
    stored = vault.put_object(session, "original", plaintext)
    on_disk = next((tmp_path / "objects").rglob(stored.id)).read_bytes()
    assert plaintext not in on_disk and "山田".encode() not in on_disk
    assert vault.get_object(stored) == plaintext


def test_vault_refuses_a_tampered_object(vault_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    stored = vault.put_object(session, "original", b"original bytes")
    path = next((tmp_path / "objects").rglob(stored.id))
    sealed = bytearray(path.read_bytes())
    sealed[-1] ^= 1
    path.write_bytes(bytes(sealed))
    with pytest.raises(DecryptionError):
        vault.get_object(stored)


def test_vault_checks_the_recorded_sha256(vault_session) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    stored = vault.put_object(session, "original", b"original bytes")
    stored.sha256 = "0" * 64
    with pytest.raises(IntegrityError):
        vault.get_object(stored)


def _sealed_pieces(key: bytes, data: bytes, associated: bytes) -> bytes:
    stream = io.BytesIO(data)
    return b"".join(seal_stream(key, stream.read, len(data), associated))


def test_a_large_object_is_sealed_in_pieces_that_cannot_be_moved_dropped_or_added() -> None:
    key = new_data_key()
    data = os.urandom(OBJECT_CHUNK * 2 + 1000)  # three pieces, the last one short
    sealed = _sealed_pieces(key, data, b"object-1")
    assert len(sealed) == sealed_size(len(data)) == len(data) + 3 * 28
    assert open_sealed_stream(key, sealed, len(data), b"object-1") == data
    step = OBJECT_CHUNK + 28
    first, second, last = sealed[:step], sealed[step:2 * step], sealed[2 * step:]
    for changed in (second + first + last,  # reordered
                    first + second + first[:1028],  # the last piece replaced
                    first + second,  # cut at a piece's end
                    sealed[:-1] + bytes([sealed[-1] ^ 1])):
        with pytest.raises(DecryptionError):
            open_sealed_stream(key, changed, len(data), b"object-1")
    with pytest.raises(DecryptionError):  # a whole file sealed as a shorter one's pieces
        open_sealed_stream(key, first + second, 2 * OBJECT_CHUNK, b"object-1")
    with pytest.raises(DecryptionError):
        open_sealed_stream(key, sealed, len(data), b"object-2")


def test_one_piece_is_sealed_as_objects_always_were() -> None:
    key = new_data_key()
    sealed = _sealed_pieces(key, b"small", b"object-1")
    assert open_sealed(key, sealed, b"object-1") == b"small"
    large = os.urandom(OBJECT_CHUNK + 5)  # written whole before pieces existed: still read
    assert open_sealed_stream(key, seal(key, large, b"o"), len(large), b"o") == large


def test_a_file_that_is_not_the_length_it_was_said_to_be_is_not_stored(
        vault_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    for said in (OBJECT_CHUNK + 10, OBJECT_CHUNK - 10):
        with pytest.raises(StreamChanged):
            vault.put_object(session, "original", io.BytesIO(b"x" * OBJECT_CHUNK), said)
    assert not [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    stored = vault.put_object(session, "original", io.BytesIO(b"y" * (3 * OBJECT_CHUNK)))
    assert stored.size == 3 * OBJECT_CHUNK
    assert vault.get_object(stored) == b"y" * (3 * OBJECT_CHUNK)


def test_an_object_is_read_at_random_a_piece_at_a_time(vault_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As a worker reads an original (Vault.open_object): any place, any length, across
    pieces; a piece changed on disk fails when a read reaches it, not before."""
    vault, session = vault_session
    data = os.urandom(OBJECT_CHUNK * 3 + 777)
    stored = vault.put_object(session, "original", data)
    with vault.open_object(stored) as reader:
        assert reader.read() == data
        for where, length in ((OBJECT_CHUNK - 5, 10), (0, 3), (3 * OBJECT_CHUNK + 700, 500)):
            reader.seek(where)
            assert reader.read(length) == data[where:where + length]
        reader.seek(-4, io.SEEK_END)
        assert reader.read() == data[-4:]
        assert reader.read(10) == b""
    path = next((tmp_path / "objects").rglob(stored.id))
    sealed = bytearray(path.read_bytes())
    sealed[2 * (OBJECT_CHUNK + 28) + 100] ^= 1  # inside the third piece
    path.write_bytes(bytes(sealed))
    with vault.open_object(stored) as reader:
        assert reader.read(OBJECT_CHUNK * 2) == data[:OBJECT_CHUNK * 2]
        with pytest.raises(DecryptionError):
            reader.read(1)
    path.write_bytes(bytes(sealed[:-1]))  # cut short
    with pytest.raises(DecryptionError):
        vault.open_object(stored)


def test_an_object_sealed_whole_before_pieces_existed_is_still_read_as_a_file(
        vault_session) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    data = os.urandom(OBJECT_CHUNK + 5)
    stored = vault.put_object(session, "original", b"")
    data_key = unwrap(vault.kek, stored.wrapped_key, stored.id)
    vault.store.put(stored.id, seal(data_key, data, stored.id.encode()))
    stored.size = len(data)
    with vault.open_object(stored) as reader:
        reader.seek(OBJECT_CHUNK)
        assert reader.read() == data[OBJECT_CHUNK:]


def test_digests_are_keyed_again_reading_each_object_piece_by_piece(vault_session) -> None:  # type: ignore[no-untyped-def]
    vault, session = vault_session
    data = os.urandom(OBJECT_CHUNK * 2 + 3)
    stored = vault.put_object(session, "original", data)
    vault.keyed = BlindIndexer(os.urandom(32)).content_digest  # a new index key
    assert vault.rekey_digests(session) == 1
    assert stored.sha256 == vault.digest(data)
    assert vault.get_object(stored) == data
