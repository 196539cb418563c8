"""The command line speaks the office's language (issue 15): Japanese by default, English with
KURA_LANG=en, in help, tables, batch reports and `kura` typed alone; and at 80 columns the
受付番号 a clerk needs is never cut."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from fastapi import Request
from rich.cells import cell_len

from kura.bench.servers import kura_env
from kura.bench.synth.corpus import make_sample_scans
from kura.cli import app
from kura.help import USAGE, commands, speak
from schemas.forms import load_forms
from schemas.i18n import speaking
from tests.helpers import run_kura, sign_in

RECEIPT = re.compile(r"R\d{8}-\d{6}")


def fits(output: str) -> bool:
    """Every line of the tables in `output` fits 80 terminal cells (a kanji takes two)."""
    return all(cell_len(line) <= 80 for line in output.splitlines() if set(line) & set("│┃┏└"))


def speaking_in(env: dict[str, str], lang: str) -> dict[str, str]:
    """`env` for a clerk at an ordinary terminal, in `lang`."""
    return {**env, "COLUMNS": "80", "KURA_LANG": lang}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A clerk took in one scan with Japanese words and one with English ones, at 80 columns."""
    folder = tmp_path_factory.mktemp("office")
    env = kura_env(data_dir=str(folder / "data"))
    sign_in(env)  # scanning clerk and records manager
    scans = make_sample_scans(folder / "scans", 2, seed=20261129)
    reports = {lang: run_kura(speaking_in(env, lang), "ingest", str(scan))
               for lang, scan in zip(("ja", "en"), scans, strict=True)}
    return {"env": env, "reports": reports}


def test_the_batch_report_shows_each_receipt_number_whole_in_both_languages(office) -> None:
    env = office["env"]
    receipts = [line["receipt_number"] for line in json.loads(run_kura(env, "queue", "--json"))]
    assert len(receipts) == 2
    ja, en = office["reports"]["ja"], office["reports"]["en"]
    # each batch report names its one document by its whole 受付番号
    said = [RECEIPT.findall(ja), RECEIPT.findall(en)]
    assert [len(found) for found in said] == [1, 1] and {*said[0], *said[1]} == set(receipts)
    assert "受付番号" in ja and "項目 1（受付 1" in ja
    assert "Receipt number" in en and "entries 1 (taken 1" in en
    assert fits(ja) and fits(en), ja + en


@pytest.mark.parametrize(("lang", "words"), [
    ("ja", ("照合待ち: 2 件", "受付番号", "様式")),
    ("en", ("Verification queue: 2 documents", "Receipt number", "Form")),
])
def test_the_queue_at_80_columns_shows_every_receipt_number_whole(
        office, lang: str, words: tuple[str, ...]) -> None:
    env = office["env"]
    listing = run_kura(speaking_in(env, lang), "queue")
    receipts = [line["receipt_number"] for line in json.loads(run_kura(env, "queue", "--json"))]
    for receipt in receipts:
        assert receipt in listing, listing
    assert set(RECEIPT.findall(listing)) == set(receipts)
    for word in words:
        assert word in listing, listing
    forms = [line["form_id"] for line in json.loads(run_kura(env, "queue", "--json"))]
    for form in forms:  # by the short Japanese name printed on the paper
        assert load_forms()[form].short_title in listing, listing
    assert fits(listing), listing


def test_kura_alone_says_where_the_installation_stands(office, tmp_path: Path) -> None:
    fresh = kura_env(data_dir=str(tmp_path / "new"))
    said = run_kura(speaking_in(fresh, "ja"))
    assert "新しい環境です" in said
    assert "次の操作: kura users add NAME --role security_admin" in said
    said = run_kura(speaking_in(office["env"], "ja"))
    assert "clerk としてサインイン中（スキャン担当者、記録管理者）" in said
    assert "照合待ちの書類: 2 件" in said and "隔離中のファイル: 0 件" in said
    assert "次の操作: kura queue" in said
    said = run_kura(speaking_in(office["env"], "en"))
    assert "Signed in as clerk (scanning clerk, records manager)" in said
    assert "2 documents wait for verification" in said and "0 files are in quarantine" in said
    assert "To continue: kura queue" in said
    run_kura(office["env"], "logout")
    said = run_kura(speaking_in(office["env"], "en"))
    assert "Nobody is signed in here" in said and "To continue: kura login NAME" in said
    sign_in(office["env"])


def test_help_speaks_the_language_chosen_when_the_command_runs(tmp_path: Path) -> None:
    env = kura_env(data_dir=str(tmp_path / "data"))
    ja = run_kura(speaking_in(env, "ja"), "backup", "--help")
    assert "環境全体を暗号化し" in ja and "実行できる人: バックアップ担当者。" in ja
    assert "例: kura backup --out" in ja and "オプション" in ja
    en = run_kura({**speaking_in(env, "en"), "COLUMNS": "200"}, "backup", "--help")
    # one sentence on one line: the docstring's hard line breaks are gone
    assert "Write an encrypted, checksummed archive of the whole installation (backup " \
        "operator). The keys are not in it: keep them apart." in en
    assert "Who may run it: backup operator." in en and "Example: kura backup --out" in en
    listing = run_kura(speaking_in(env, "ja"), "--help")
    assert "照合待ちの書類" in listing and "コマンド" in listing


def test_typers_own_words_around_an_error_follow_the_language(tmp_path: Path) -> None:
    from kura.bench.servers import run_kura as run

    env = kura_env(data_dir=str(tmp_path / "data"))
    ja = run(speaking_in(env, "ja"), "nosuch", timeout=60)
    assert ja.returncode == 2
    assert "'nosuch' というコマンドはありません。" in ja.stderr and "エラー" in ja.stderr
    assert "kura --help' で表示されます。" in ja.stderr and "使い方: " in ja.stderr
    en = run(speaking_in(env, "en"), "nosuch", timeout=60)
    assert "No such command 'nosuch'." in en.stderr and "Usage: " in en.stderr

    # click's own usage errors, worded in English f-strings, are said again in Japanese
    said = {args: run(speaking_in(env, "ja"), *args, timeout=60) for args in (
        ("verify", "finish"), ("verify", "finsh"), ("ingest", "--bogus"),
        ("verify", "show", "R1", "--field"), ("verify", "finish", "R1", "R2"))}
    assert all(done.returncode == 2 for done in said.values())
    assert [" ".join(done.stderr.split("│")[1].split()) for done in said.values()] == [
        "引数 'receipt' が指定されていません。",
        "'finsh' というコマンドはありません。'finish' のことですか？",
        "--bogus というオプションはありません。",
        "オプション '--field' には値が必要です。",
        "余分な引数があります（表示しません。値は求められたら入力します）"]
    en = run(speaking_in(env, "en"), "verify", "finsh", timeout=60)
    assert "No such command 'finsh'. Did you mean 'finish'?" in en.stderr


def test_a_setting_kura_cannot_take_is_named_in_the_language_never_a_traceback(
    tmp_path: Path,
) -> None:
    """A wrong environment variable stops every command with the variable named and what is
    wrong with it, as `kura doctor` says it; its value is not repeated (a URL may carry a
    password), and no Python traceback reaches the clerk."""
    from kura.bench.servers import run_kura as run

    env = {**kura_env(data_dir=str(tmp_path / "data")), "KURA_OFFICES": "011002",
           "KURA_WATCH_POLL": "maybe", "KURA_DATABASE_URL": "postgresql://kura:s3cret@db/x"}
    ja = run(speaking_in(env, "ja"), "status", timeout=60)
    assert ja.returncode == 2 and "Traceback" not in ja.stderr
    said = " ".join(ja.stderr.split())
    assert "✗ 設定: KURA_OFFICES: '011002' は「コード=事務所名」の形ではありません" in said
    assert "✗ 設定: KURA_WATCH_POLL: はい・いいえ（true または false）ではありません" in said
    en = run(speaking_in(env, "en"), "doctor", timeout=60)
    assert en.returncode == 2 and "Traceback" not in en.stderr
    assert "✗ settings: KURA_WATCH_POLL: not yes or no (true or false)" in en.stderr
    assert "maybe" not in ja.stderr + en.stderr and "s3cret" not in ja.stderr + en.stderr


def test_every_command_says_who_may_run_it_and_gives_an_example() -> None:
    root = typer.main.get_command(app)
    paths = {path for path, command in commands(root)  # a group that runs alone is one too
             if path and (not hasattr(command, "commands") or command.invoke_without_command)}
    assert sorted(paths - set(USAGE)) == [], "add the command to kura/help.py USAGE"
    assert sorted(set(USAGE) - paths) == []
    with speaking("en"):
        spoken = speak(typer.main.get_command(app))
    for path, command in commands(spoken):
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph, (path, paragraph)
        if path in USAGE:
            assert "Who may run it: " in command.help and "Example: kura " in command.help


def test_every_form_has_a_short_japanese_name() -> None:
    for form in load_forms().values():
        assert form.short_title and len(form.short_title) <= 8, form.id


def test_the_rooms_word_errors_in_the_persons_language(tmp_path: Path) -> None:
    """web/app.py speaks each request in the person's language, so what a use case raises
    arrives in it (here: the words a use case would put in its error)."""
    from fastapi.testclient import TestClient

    from schemas.i18n import _
    from storage import accounts
    from storage.db import session_scope
    from storage.usecases import sessions
    from tests.helpers import PASSWORD, add_person, settings_from
    from web.app import create_app
    from web.rooms.common import signed_in

    app = create_app(settings_from(kura_env(data_dir=str(tmp_path / "data"), lang="ja")))

    @app.get("/said")
    def said() -> dict[str, str]:
        return {"said": _("not signed in: run `kura login NAME` first")}

    @app.get("/said-to-me")
    def said_to_me(request: Request) -> dict[str, str]:
        signed_in(request)
        return {"said": _("not signed in: run `kura login NAME` first")}

    client = TestClient(app)
    assert "サインインしていません" in client.get("/said").json()["said"]
    client.cookies.set("kura_lang", "en")
    assert client.get("/said").json()["said"].startswith("not signed in")
    # a person's own setting wins over the browser's cookie once the room knows who it is
    env = kura_env(data_dir=str(tmp_path / "data"), lang="ja")
    add_person(env, "vera", "verifier")
    with session_scope(settings_from(env).sqlalchemy_url) as session:
        token = accounts.sign_in(session, "vera", PASSWORD, 60).token
    sessions.choose_language(settings_from(env), token, "ja")
    client.cookies.set("kura_session", token)
    assert "サインインしていません" in client.get("/said-to-me").json()["said"]
