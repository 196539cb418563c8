"""Throwaway Redis, PostgreSQL and S3 (SeaweedFS) servers for tests and `kura bench --services`.

Each server listens on free ports of 127.0.0.1 only, keeps all its files in its own
temporary directory, and ``stop()`` ends it (terminate, wait, kill) and removes that
directory. Use them as context managers: ``with RedisServer() as redis: ...``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import redis
import urllib3
from minio import Minio

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A test server is missing, failed to start, or did not become ready."""


def find_binary(name: str, *extra_patterns: str) -> str:
    """Path of an executable from PATH, this virtualenv, or the ``extra_patterns`` globs."""
    venv_scripts = sysconfig.get_path("scripts")
    found = shutil.which(name) or shutil.which(name, path=venv_scripts)
    if found:
        return found
    for pattern in extra_patterns:
        # Sorted, so that the newest versioned directory (e.g. postgresql/16) comes last.
        candidates = sorted(glob.glob(pattern))
        if candidates:
            return candidates[-1]
    searched = ["PATH", venv_scripts, *extra_patterns]
    raise ServerError(
        f"`{name}` is needed to start a real server for the tests, "
        f"but was not found in: {', '.join(searched)}"
    )


class FreePorts:
    """Picks distinct free ports on 127.0.0.1.

    Every picked port stays bound until ``close()``, so no later pick can return it again.
    """

    def __init__(self) -> None:
        self._sockets = contextlib.ExitStack()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._sockets.close()

    def pick(self, with_partner_at: int = 0, attempts: int = 100) -> int:
        """A free port P; with ``with_partner_at`` N, P + N is free (and reserved) too."""
        for _ in range(attempts):
            port = self._bind(0)
            if not with_partner_at:
                return port
            try:
                self._bind(port + with_partner_at)
            except (OverflowError, OSError):
                continue
            return port
        raise ServerError(f"found no free port P with P+{with_partner_at} free as well")

    def _bind(self, port: int) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, port))
        except BaseException:
            sock.close()
            raise
        self._sockets.enter_context(sock)
        bound_port: int = sock.getsockname()[1]
        return bound_port


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with FreePorts() as ports:
        return ports.pick()


def wait_until(is_ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``is_ready`` until it returns True; raise ServerError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not is_ready():
        if time.monotonic() > deadline:
            raise ServerError(f"{what} was not ready after {timeout_s:.0f} s")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)


class ManagedServer:
    """Base class: a server process with its own temp dir and log file."""

    name = "server"

    def __init__(self) -> None:
        self.tmp_dir = Path(tempfile.mkdtemp(prefix=f"kura-test-{self.name}-"))
        self.log_path = self.tmp_dir / f"{self.name}.log"
        self._log_file: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until it answers; on failure clean up and raise."""
        try:
            self._launch()
            self._wait_until_ready()
        except ServerError as error:
            log_tail = self.log_tail()
            self.stop()
            raise ServerError(f"{self.name}: {error}\n--- end of its log ---\n{log_tail}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server and remove its files; safe to call more than once."""
        ManagedServer._halt(self)  # the process only: a subclass's stop has done the rest
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the server process, keeping its files and ports, and start it again after
        `down_s` seconds (for tests that break things)."""
        self._halt()
        time.sleep(down_s)
        self._relaunch()
        self._wait_until_ready()

    def _halt(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _relaunch(self) -> None:
        self._launch()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _launch(self) -> None:
        raise NotImplementedError

    def _wait_until_ready(self) -> None:
        raise NotImplementedError

    def _spawn(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.tmp_dir,
            env=env,
            # Ctrl+C then reaches pytest only, and the fixture teardown stops the server.
            start_new_session=True,
        )

    def _check_still_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise ServerError(f"the process exited early with code {self._process.returncode}")


class RedisServer(ManagedServer):
    name = "redis"

    def __init__(self) -> None:
        self.binary = find_binary("redis-server")
        super().__init__()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _launch(self) -> None:
        self._spawn(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", LOOPBACK,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.tmp_dir),
            ]
        )  # fmt: skip

    def _wait_until_ready(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=1)

        def answers_ping() -> bool:
            self._check_still_running()
            try:
                return bool(client.ping())
            except (redis.ConnectionError, redis.TimeoutError):
                return False

        try:
            wait_until(answers_ping, STARTUP_TIMEOUT_S, f"Redis on port {self.port}")
        finally:
            client.close()


class PostgresServer(ManagedServer):
    """PostgreSQL where the ``postgres`` user logs in without a password.

    initdb and postgres refuse to run as root; as root they run as the ``postgres``
    user, which therefore owns the temp dir.
    """

    name = "postgres"
    user = "postgres"

    def __init__(self) -> None:
        self.initdb = find_binary("initdb", "/usr/lib/postgresql/*/bin/initdb")
        self.pg_ctl = find_binary("pg_ctl", "/usr/lib/postgresql/*/bin/pg_ctl")
        self.createdb = find_binary("createdb", "/usr/lib/postgresql/*/bin/createdb")
        self.dropdb = find_binary("dropdb", "/usr/lib/postgresql/*/bin/dropdb")
        super().__init__()
        self.port = free_port()
        self.data_dir = self.tmp_dir / "data"
        self._run_as_user: list[str] = []
        if os.geteuid() == 0:
            self._run_as_user = ["runuser", "-u", self.user, "--"]
            self.log_path.touch()
            for path in (self.tmp_dir, self.log_path):
                shutil.chown(path, user=self.user)

    def url(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the database ``name``; returns its SQLAlchemy URL."""
        self._run([self.createdb, *self._client, name])
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # --force, because a test may leave a connection pool open.
        self._run([self.dropdb, *self._client, "--if-exists", "--force", name])

    def stop(self) -> None:
        # `pg_ctl start` detaches the postmaster: there is no child process to terminate.
        postmaster_pid = self._postmaster_pid()
        if postmaster_pid is not None:
            stopped = self._pg_ctl("stop", "-m", "fast", check=False)
            if not stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(postmaster_pid, signal.SIGKILL)
        super().stop()

    def _halt(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def _relaunch(self) -> None:
        self._pg_ctl("start", "-o", self._server_options(), "-l", str(self.log_path))

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    @property
    def _client(self) -> list[str]:
        return ["-h", LOOPBACK, "-p", str(self.port), "-U", self.user]

    def _run(self, command: list[str], check: bool = True) -> bool:
        """Run a PostgreSQL tool (as the postgres user when we are root), logging its output."""
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                self._run_as_user + command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmp_dir,
                timeout=STARTUP_TIMEOUT_S + 10,
                check=False,
            )
        if check and result.returncode != 0:
            raise ServerError(f"`{' '.join(command)}` exited with code {result.returncode}")
        return result.returncode == 0

    def _pg_ctl(self, *args: str, check: bool = True) -> bool:
        wait = ["-w", "-t", str(int(STARTUP_TIMEOUT_S))]
        return self._run([self.pg_ctl, "-D", str(self.data_dir), *wait, *args], check)

    def _launch(self) -> None:
        self._run(
            [
                self.initdb,
                "-D", str(self.data_dir),
                "--username", self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )  # fmt: skip
        self._relaunch()

    def _server_options(self) -> str:
        return f"-p {self.port} -k {self.tmp_dir} -c listen_addresses={LOOPBACK} -c fsync=off"

    def _wait_until_ready(self) -> None:
        """Nothing to do: `pg_ctl start -w` returns once the server accepts connections."""


@dataclass(frozen=True)
class S3Bucket:
    """Where one test may keep objects (the names match KURA_S3_* settings)."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    secure: bool = False

    def client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            secure=self.secure,
        )


class S3Server(ManagedServer):
    """SeaweedFS: ``weed mini`` runs master, volume, filer and S3 gateway in one process.

    Every port weed opens is picked here, so that parallel test runs cannot collide.
    """

    name = "seaweedfs"
    region = "us-east-1"
    # weed's maintenance worker dials the admin server's gRPC at admin port + 10000,
    # whatever -admin.port.grpc says.
    admin_grpc_offset = 10000

    def __init__(self) -> None:
        self.binary = find_binary("weed")
        super().__init__()
        self.access_key = "kura" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(20)
        with FreePorts() as ports:
            self.port = ports.pick()
            # weed's own components, by the weed flag that sets each port.
            self.internal_ports = {
                "s3.port.grpc": ports.pick(),
                "master.port": ports.pick(),
                "master.port.grpc": ports.pick(),
                "volume.port": ports.pick(),
                "volume.port.grpc": ports.pick(),
                "filer.port": ports.pick(),
                "filer.port.grpc": ports.pick(),
                "admin.port": ports.pick(with_partner_at=self.admin_grpc_offset),
            }
        admin_grpc_port = self.internal_ports["admin.port"] + self.admin_grpc_offset
        self.internal_ports["admin.port.grpc"] = admin_grpc_port

    @property
    def endpoint(self) -> str:
        """host:port, as the minio client and KURA_S3_ENDPOINT take it."""
        return f"{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        tmp = self.tmp_dir
        return [
            self.binary,
            "-logtostderr",
            "mini",
            f"-dir={tmp / 'data'}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-s3.port={self.port}",
            *(f"-{flag}={port}" for flag, port in self.internal_ports.items()),
            f"-s3.config={tmp / 's3.json'}",
            f"-filer.localSocket={tmp / 'filer.sock'}",
            f"-s3.localSocket={tmp / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]

    def _launch(self) -> None:
        (self.tmp_dir / "data").mkdir(exist_ok=True)
        identity = {
            "name": "kura-tests",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self.tmp_dir / "s3.json").write_text(json.dumps({"identities": [identity]}))
        env = dict(os.environ)
        # weed mini would turn these into a second identity.
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
        self._spawn(self.command(), env)

    def stop(self) -> None:
        super().stop()
        # weed leaves some of its gRPC unix sockets behind in /tmp (a fixed path).
        for flag, port in self.internal_ports.items():
            if flag.endswith(".grpc"):
                for leftover in glob.glob(f"/tmp/seaweedfs-*-grpc-{port}.sock"):
                    with contextlib.suppress(OSError):
                        os.remove(leftover)

    def _wait_until_ready(self) -> None:
        # No retries and short timeouts: the polling loop does the retrying.
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=5), retries=False)
        client = Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            secure=False,
            http_client=http,
        )
        last_error: Exception | None = None

        def lists_buckets() -> bool:
            nonlocal last_error
            self._check_still_running()
            try:
                client.list_buckets()
            except Exception as error:  # whatever it is, the server is not ready yet
                last_error = error
                return False
            return True

        try:
            wait_until(lists_buckets, STARTUP_TIMEOUT_S, f"S3 on {self.endpoint}")
        except ServerError as error:
            raise ServerError(f"{error}; the last attempt said: {last_error!r}") from None
        finally:
            http.clear()


KURA = [sys.executable, "-m", "kura"]


def kura_env(**settings: str) -> dict[str, str]:
    """This process's environment with KURA_* replaced by `settings` (field names); Kura's
    words in English unless `lang` says otherwise (the tests and the benchmark read them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env["KURA_LANG"] = "en"
    env.update({f"KURA_{k.upper()}": v for k, v in settings.items()})
    env["COLUMNS"] = "200"  # one summary line per line, whatever the terminal
    return env


def run_kura(
    env: dict[str, str], *args: str, timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `kura` command in a child process, its output captured."""
    return subprocess.run(
        [*KURA, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_login(env: dict[str, str], username: str, password: str,
              code_for: Callable[[str], str], timeout: float = 120
              ) -> subprocess.CompletedProcess[str]:
    """`kura login --password-stdin` of a person with no second factor yet, as at a terminal:
    the password; then, for a duty that needs one, `kura login` shows its key and waits for a
    code: `code_for(key)` gives it. (One whose factor was set up before waits for a code this
    does not type: it is ended after `timeout`, and fails.)"""
    process = subprocess.Popen([*KURA, "login", username, "--password-stdin"], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdin and process.stdout and process.stderr
    deadline = threading.Timer(timeout, process.kill)
    deadline.start()
    try:
        process.stdin.write(f"{password}\n")
        process.stdin.flush()
        shown = ""
        for line in process.stdout:  # up to the key, if one is shown: then it waits
            shown += line
            if found := re.search(r"otpauth://\S*[?&]secret=([A-Z2-7]+)", line):
                process.stdin.write(f"{code_for(found.group(1))}\n")
                break
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        shown += process.stdout.read()
        said = process.stderr.read()
        process.wait()
    finally:
        deadline.cancel()
    return subprocess.CompletedProcess(process.args, process.returncode, shown, said)
