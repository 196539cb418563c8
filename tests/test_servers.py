"""The throwaway servers from kura/bench/servers.py really work."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import redis
import sqlalchemy as sa
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from kura.bench.servers import S3Bucket

pytestmark = pytest.mark.services


def test_redis_set_and_get(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()
        client.set("greeting", "こんにちは")
        assert client.get("greeting") == "こんにちは".encode()


def test_redis_url_starts_empty(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0


def test_postgres_select_and_create_table(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text("select 1")).scalar_one() == 1
            connection.execute(sa.text("create table document (id serial primary key, name text)"))
            connection.execute(sa.text("insert into document (name) values ('年金手帳')"))
        with engine.connect() as connection:
            names = connection.execute(sa.text("select name from document")).scalars().all()
        assert names == ["年金手帳"]
    finally:
        engine.dispose()


def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_s3_put_and_get_in_object_lock_bucket(s3: S3Bucket) -> None:
    client = s3.client()
    assert not client.bucket_exists(s3.bucket)
    client.make_bucket(s3.bucket, object_lock=True)

    data = bytes(range(256)) * 1000
    client.put_object(s3.bucket, "scans/1.png", io.BytesIO(data), len(data))

    response = client.get_object(s3.bucket, "scans/1.png")
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()


def test_s3_rejects_wrong_credentials(s3: S3Bucket) -> None:
    intruder = S3Bucket(s3.endpoint, s3.access_key, "wrong-secret", s3.region, s3.bucket)
    with pytest.raises(S3Error) as raised:
        intruder.client().list_buckets()
    assert raised.value.code == "SignatureDoesNotMatch"


def test_s3_object_lock_bucket_is_versioned_with_default_retention(s3: S3Bucket) -> None:
    client = s3.client()
    client.make_bucket(s3.bucket, object_lock=True)
    assert client.get_bucket_versioning(s3.bucket).status == ENABLED

    client.set_object_lock_config(s3.bucket, ObjectLockConfig(GOVERNANCE, 1, DAYS))
    config = client.get_object_lock_config(s3.bucket)
    assert (config.mode, config.duration, config.duration_unit) == (GOVERNANCE, 1, DAYS)

    client.put_object(s3.bucket, "a.pdf", io.BytesIO(b"%PDF"), 4)
    retention = client.get_object_retention(s3.bucket, "a.pdf")
    assert retention is not None
    assert retention.mode == GOVERNANCE


def test_s3_compliance_retention_blocks_deleting_the_version(s3: S3Bucket) -> None:
    client = s3.client()
    client.make_bucket(s3.bucket, object_lock=True)
    retain_until = datetime.now(UTC) + timedelta(days=1)
    written = client.put_object(
        s3.bucket,
        "a.pdf",
        io.BytesIO(b"%PDF"),
        4,
        retention=Retention(COMPLIANCE, retain_until),
    )
    version = written.version_id
    assert version

    retention = client.get_object_retention(s3.bucket, "a.pdf", version_id=version)
    assert retention is not None
    assert retention.mode == COMPLIANCE

    with pytest.raises(S3Error) as raised:
        client.remove_object(s3.bucket, "a.pdf", version_id=version)
    assert raised.value.code == "AccessDenied"

    shorter = Retention(COMPLIANCE, retain_until - timedelta(hours=1))
    with pytest.raises(S3Error):
        client.set_object_retention(s3.bucket, "a.pdf", shorter, version_id=version)

    # Deleting without a version only adds a delete marker; the locked version stays.
    client.remove_object(s3.bucket, "a.pdf")
    response = client.get_object(s3.bucket, "a.pdf", version_id=version)
    try:
        assert response.read() == b"%PDF"
    finally:
        response.close()
        response.release_conn()


def test_s3_bucket_without_object_lock_has_no_lock_config(s3: S3Bucket) -> None:
    client = s3.client()
    client.make_bucket(s3.bucket)
    with pytest.raises(S3Error) as raised:
        client.get_object_lock_config(s3.bucket)
    assert raised.value.code == "ObjectLockConfigurationNotFoundError"


def test_s3_versioning_keeps_old_versions(s3: S3Bucket) -> None:
    client = s3.client()
    client.make_bucket(s3.bucket)
    client.set_bucket_versioning(s3.bucket, VersioningConfig(ENABLED))
    assert client.get_bucket_versioning(s3.bucket).status == ENABLED

    first = client.put_object(s3.bucket, "form.yaml", io.BytesIO(b"v1"), 2)
    second = client.put_object(s3.bucket, "form.yaml", io.BytesIO(b"v2"), 2)
    assert first.version_id and second.version_id and first.version_id != second.version_id

    def read(version_id: str | None = None) -> bytes:
        response = client.get_object(s3.bucket, "form.yaml", version_id=version_id)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    assert read() == b"v2"
    assert read(first.version_id) == b"v1"
    versions = {o.version_id for o in client.list_objects(s3.bucket, include_version=True)}
    assert versions == {first.version_id, second.version_id}
