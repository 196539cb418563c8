"""`kura doctor` (issue 12): each broken dependency named with its fix, exit status 1 until
everything is right, against the real Redis, PostgreSQL and S3 servers."""

from __future__ import annotations

from pathlib import Path

from minio import Minio

from kura.bench.servers import S3Bucket, kura_env, run_kura
from storage.db import ensure_current, session_scope
from storage.keys import index_key_file, kek_file, load_keyring
from storage.objects import ensure_locked_bucket
from storage.runtime import vault_for
from tests.helpers import services_env, settings_from


def _doctor(env: dict[str, str]) -> tuple[int, str]:
    done = run_kura(env, "doctor", timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_doctor_names_what_is_wrong_and_how_to_fix_it(
    tmp_path: Path, redis_url: str, postgres_url: str, s3: S3Bucket
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = services_env(tmp_path / "data", redis_url, postgres_url, s3,
                       watch_dir=str(inbox), watch_archive_dir=str(inbox / "done"))
    env.update(KURA_INDEX_KEY="", KURA_AUDIT_KEY="")
    status, said = _doctor({**env, "KURA_BROKER_URL": "redis://127.0.0.1:9/0"})
    assert status == 1
    for line in (
        "✗ redis: the broker cannot be reached", "✗ database: PostgreSQL has no Kura tables "
        "yet", "fix: kura db upgrade", f"✗ object store: bucket {s3.bucket} does not exist",
        "✗ blind-index key: not configured in production", "fix: set KURA_INDEX_KEY",
        f"✗ hot folder: the input folder ({inbox}) and the archive folder ({inbox / 'done'}) "
        "overlap", "✓ tesseract: Tesseract with jpn, eng", "✓ key-encryption key: configured",
    ):
        assert line in said, said

    env.update(KURA_WATCH_ARCHIVE_DIR=str(tmp_path / "archive"), KURA_INDEX_KEY=env["KURA_KEK"]
               [::-1], KURA_AUDIT_KEY=env["KURA_KEK"][1:] + env["KURA_KEK"][:1])
    assert run_kura(env, "db", "upgrade", timeout=120).returncode == 0
    client = Minio(s3.endpoint, s3.access_key, s3.secret_key, region=s3.region, secure=False)
    for bucket in (s3.bucket, f"{s3.bucket}-audit"):
        assert ensure_locked_bucket(client, bucket)
    status, said = _doctor(env)
    assert status == 0, said
    assert "✓ database: PostgreSQL at migration" in said
    assert f"✓ object store: bucket {s3.bucket} with Object Lock" in said


def test_doctor_finds_a_key_file_others_can_read(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    load_keyring(settings)  # the embedded default makes its key file
    key = kek_file(settings.keys_dir)  # the key folder (KURA_KEY_DIR), not the data folder
    assert settings.data_dir not in key.parents
    key.chmod(0o644)
    status, said = _doctor(env)
    assert status == 1
    assert f"✗ key-encryption key: {key} has mode 644: others can read it" in said
    assert f"fix: chmod 600 {key}" in said
    assert f"✓ key folder: {settings.keys_dir} mode 700" in said  # kura keeps it private


def test_doctor_misses_a_key_file_once_data_is_sealed(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    settings = settings_from(env)
    ensure_current(settings.sqlalchemy_url)
    with session_scope(settings.sqlalchemy_url) as session:  # makes the keys, seals one file
        vault_for(settings).put_object(session, "original", b"a sealed scan")
    lost = index_key_file(settings.keys_dir)
    lost.unlink()
    status, said = _doctor(env)
    assert status == 1
    assert f"✗ blind-index key: {lost} is missing, and this installation already holds" in said
    assert f"fix: restore the key folder {settings.keys_dir} from its backup" in said
