"""Running the real `kura` command and reading what it stored, for end-to-end tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from kura.bench import servers
from kura.bench.servers import KURA, S3Bucket, kura_env
from schemas.settings import Settings
from storage.crypto import Kek


def services_env(
    data_dir: Path, redis_url: str, postgres_url: str, s3: S3Bucket, **settings: str
) -> dict[str, str]:
    """Kura pointed at the throwaway Redis, PostgreSQL and S3 servers, with keys of its own
    (a configured installation never makes keys)."""
    return kura_env(
        data_dir=str(data_dir),
        database_url=postgres_url,
        broker_url=redis_url,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_bucket=s3.bucket,
        s3_region=s3.region,
        kek=Kek.generate().to_base64(),
        index_key=Kek.generate().to_base64(),
        audit_key=Kek.generate().to_base64(),
        **settings,
    )


class CeleryWorker:
    """A real `kura worker` process for the length of a with-block; `log` is its output."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.log = env, ""

    def __enter__(self) -> CeleryWorker:
        self.process = subprocess.Popen(
            [*KURA, "worker", "--concurrency", "1"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.log = self.process.communicate(timeout=60)[0]


def run_kura(
    env: dict[str, str], *args: str, timeout: float = 300, input: str | None = None
) -> str:
    done = servers.run_kura(env, *args, timeout=timeout, stdin=input)
    assert done.returncode == 0, f"kura {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def settings_from(env: dict[str, str]) -> Settings:
    return Settings(
        **{k.removeprefix("KURA_").lower(): v for k, v in env.items() if k.startswith("KURA_")}
    )


def truth_of(scan: Path) -> dict[str, Any]:
    return json.loads((scan.parent / f"{scan.stem}.truth.json").read_text(encoding="utf-8"))


PASSWORD = "a long test passphrase"
"""Every test account's password (never contains a user name)."""


def add_person(env: dict[str, str], username: str, *roles: str) -> None:
    """An account with `roles` in the installation `env` points at (created in process)."""
    from storage.accounts import add_person as add
    from storage.accounts import find
    from storage.audit import Actor
    from storage.db import session_scope, upgrade

    url = settings_from(env).sqlalchemy_url
    upgrade(url)
    with session_scope(url) as session:
        if find(session, username) is None:
            add(session, Actor("test-setup", "-"), username, list(roles), PASSWORD)


def sign_in(
    env: dict[str, str],
    username: str = "clerk",
    roles: tuple[str, ...] = ("scanning_clerk", "records_manager"),
) -> str:
    """Create the person if needed and `kura login` as them (the session file lives in the
    installation's data_dir, so later `kura` commands with `env` run as this person)."""
    add_person(env, username, *roles)
    return run_kura(env, "login", username, "--password-stdin", input=PASSWORD + "\n")
