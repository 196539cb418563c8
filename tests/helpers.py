"""Running the real `kura` command and reading what it stored, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp

from kura.bench import servers
from kura.bench.servers import KURA, S3Bucket, free_port, kura_env
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
    """A real `kura worker` process for the length of a with-block; `log` is its output
    (written to a file as it comes: a pipe nobody reads would stop a talkative worker).
    `args` are more options of `kura worker` (e.g. `--beat`)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env, self.args, self.log = env, args, ""
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__

    def __enter__(self) -> CeleryWorker:
        self._start()
        return self

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [*KURA, "worker", "--concurrency", "1", *self.args],
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches its pool too
        )

    def kill_and_restart(self) -> None:
        """SIGKILL the worker and its pool processes at once (a machine that died), then
        start a new worker."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(60)
        self._start()

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(60)
        self._output.seek(0)
        self.log = self._output.read().decode(errors="replace")
        self._output.close()


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
    return login(env, username)


SECRETS: dict[tuple[str, str], str] = {}
"""The TOTP secrets people set up in these tests (at `kura login` or the rooms' sign-in),
by (installation or server, user name)."""
USED_STEPS: dict[tuple[str, str], int] = {}
"""The last 30 s step whose code each person typed: the server takes a step's code once."""


def who(env: dict[str, str], username: str) -> tuple[str, str]:
    """The key of `username` of the installation (or server) `env` runs against."""
    return (env.get("KURA_SERVER_URL") or env.get("KURA_DATABASE_URL")
            or env.get("KURA_DATA_DIR", ""), username)


def restored_factor(source: dict[str, str], target: dict[str, str], username: str) -> None:
    """A restore brings each person's second factor with it: their app's codes stay good."""
    SECRETS[who(target, username)] = SECRETS[who(source, username)]
    USED_STEPS[who(target, username)] = USED_STEPS[who(source, username)]


def login(env: dict[str, str], username: str, password: str = PASSWORD,
          timeout: float = 120) -> str:
    """`kura login` as a person would: the password, and for a duty that signs in with a
    TOTP code the code of their app; one who has no second factor yet sets it up on the way
    (reads the key `kura login` shows, types its code). Fails the test unless signed in."""
    person = who(env, username)
    if person in SECRETS:
        return run_kura(env, "login", username, "--password-stdin", timeout=timeout,
                        input=f"{password}\n{totp_code(person)}\n")

    def set_up(key: str) -> str:
        SECRETS[person] = key
        return totp_code(person)

    done = servers.run_login(env, username, password, set_up, timeout)
    assert done.returncode == 0, f"kura login {username} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def totp_code(person: tuple[str, str]) -> str:
    """The code to type now: of the current 30 s step or the next (the server allows one
    step of clock drift), whichever this person has not typed yet; else wait for one."""
    while True:
        now = int(time.time() // 30)
        step = next((s for s in (now, now + 1) if s > USED_STEPS.get(person, -1)), None)
        if step is not None:
            USED_STEPS[person] = step
            return pyotp.TOTP(SECRETS[person]).at(step * 30)
        time.sleep(1)


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    """`kura web` on a free loopback port with `env`, once it answers its health check:
    (its address, its process id). Its output goes to `log_path`, shown if it never starts."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen([*KURA, "web", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            process.kill()
            raise AssertionError(log_path.read_text())
        try:
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(30)
