"""The storehouse's lock holds against the findings of issue 14 that need no server: the demo
door, files another local user could read, a missing key answered with a new one, and
identifiers on the command line."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kura.bench.servers import KURA, kura_env
from kura.bench.synth import make_sample_scans
from schemas.errors import ExitCode
from schemas.settings import Settings
from storage.crypto import MissingKey
from storage.keys import kek_file
from storage.runtime import vault_for
from tests.helpers import PASSWORD, run_kura, settings_from, sign_in


@pytest.fixture(scope="module")
def sample_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_scans(tmp_path_factory.mktemp("scan"), 1, seed=14)[0]


def _kura(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KURA, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=300, check=False)


def _first_admin(env: dict[str, str]) -> None:
    run_kura(env, "users", "add", "sato", "--role", "security_admin", "--role", "auditor",
             "--password-stdin", input=PASSWORD + "\n")


def test_kura_demo_refuses_an_installation_with_people_of_its_own(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    _first_admin(env)

    done = _kura(env, "demo", "--count", "1")

    assert done.returncode == ExitCode.failed, done.stdout + done.stderr
    assert "kura demo runs only on a new installation" in done.stderr
    run_kura(env, "login", "sato", "--password-stdin", input=PASSWORD + "\n")
    users = run_kura(env, "users", "list", "--json")
    assert "demo-" not in users
    audit = run_kura(env, "audit", "search", "--action", "user.add")
    assert "kura-demo" not in audit


def test_kura_demo_refuses_a_configured_database(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"),
                   database_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    done = _kura(env, "demo", "--count", "1")
    assert done.returncode == ExitCode.failed
    assert "never on a configured installation" in done.stderr


def test_another_local_user_reads_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = kura_env(data_dir=str(data))
    _first_admin(env)
    run_kura(env, "keys", "init")
    settings = settings_from(env)

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.keys_dir.stat().st_mode) == 0o700
    for path in [*data.rglob("*"), *settings.keys_dir.rglob("*")]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    # and as another user, for real: tmp_path itself is traversable, the data folder is not
    tmp_path.chmod(0o755)
    for target in (data / "kura.db", kek_file(settings.keys_dir)):
        read = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
             str(target)], capture_output=True, text=True, check=False)
        assert read.returncode != 0 and "Permission denied" in read.stderr, target


def test_an_older_readable_data_folder_is_closed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    run_kura(kura_env(data_dir=str(data)), "forms", "list", "--json")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_a_missing_key_is_an_error_never_a_new_key(tmp_path: Path, sample_scan: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    sign_in(env)
    run_kura(env, "ingest", str(sample_scan))
    settings = settings_from(env)
    kek = kek_file(settings.keys_dir)
    shutil.move(kek, tmp_path / "kek.away")
    vault_for.cache_clear()

    with pytest.raises(MissingKey, match="no key at"):
        vault_for(settings)
    done = _kura(env, "ingest", str(sample_scan))
    assert done.returncode == ExitCode.unavailable, done.stdout + done.stderr
    assert f"no key at {kek}" in done.stderr
    assert not kek.exists()
    refused = _kura(env, "keys", "init")
    assert refused.returncode != 0 and "only for a new installation" in refused.stderr
    assert not kek.exists()


def test_keys_live_apart_from_the_data(tmp_path: Path) -> None:
    keys = tmp_path / "disk2" / "kura-keys"
    settings = Settings(data_dir=tmp_path / "data", key_dir=keys)
    vault_for(settings)
    assert kek_file(keys).exists()
    assert not any(p.suffix == ".b64" for p in (tmp_path / "data").rglob("*"))


def test_identifiers_are_never_command_line_arguments(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    done = _kura(env, "find", "my_number", "968798962676")
    assert done.returncode == ExitCode.bad_input
    assert "unexpected extra argument" in done.stderr
