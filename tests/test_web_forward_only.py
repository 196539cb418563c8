"""Forward-only claims (年金生活者支援給付金) in the register room, in a real browser: the
register shows each open claim that waits for its name kana and birth date, and a scanning
clerk keys them on its line (validation in the person's words, the same use case and audit
entry as `kura register identify`); the 突合 report shows an `unconfirmed` row as needing a
person, with what is missing on which side and the way forward: keyed, the list is
reconciled again while it is unconfirmed, and a confirmed list says it cannot run again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from kura.bench.keystrokes import serving
from schemas.settings import Settings
from tests.register_data import (
    Planted,
    file_planted,
    list_as_read,
    open_register,
    support_claim,
)
from tests.verification_data import Office
from tests.web_browser import shots_fixture, sign_in  # noqa: F401

OFFICE = "011002"
RECEIVED = dt.date.today() - dt.timedelta(days=20)


def _row(number: str, bpn: str, kana: str, born: str) -> dict[str, str]:
    return {"number": number, "basic_pension_number": bpn, "name_kana": kana,
            "birth_date": born, "notification_type": "年金生活者支援給付金請求",
            "received_date": (RECEIVED + dt.timedelta(days=4)).isoformat(),
            "processed_date": (RECEIVED + dt.timedelta(days=15)).isoformat(),
            "result": "処理済"}


def _post(page: Page, url: str, form: dict[str, str]) -> int:
    csrf = page.locator("body").get_attribute("data-csrf") or ""
    return page.request.post(url, form={"csrf": csrf, **form}).status


def test_a_claim_keyed_in_the_room_settles_its_unconfirmed_row(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        municipality_code=OFFICE, office="札幌市 保険年金課")
    open_register(settings)
    claim, other = file_planted(settings, [
        support_claim(RECEIVED),
        Planted("shienkyufu_seikyusho", {"basic_pension_number": "5555666677",
                                         "name": "南 春子"}, RECEIVED)])
    listed = list_as_read(settings, OFFICE, [
        _row("1", "1111222233", "キタイチロウ", "1950-04-01"),
        _row("2", "5555666677", "ミナミハルコ", "1948-02-03")])
    office = Office(settings, [claim, other], "")
    with serving(settings) as base:
        # the register: both claims wait for their counter identity
        sakura = sign_in(browser, base, "sakura")
        sakura.goto("/register")
        expect(sakura.locator("#lines tr.needs-identity")).to_have_count(2)
        line = sakura.locator(f"#lines tr[data-identify='{claim}']")
        expect(line).to_contain_text("様式に氏名（カナ）と生年月日がありません")
        sakura.screenshot(path=shots / "register-needs-identity.png", full_page=True)
        # typed in letters it cannot read: refused on its line, in the person's words
        line.locator("input[name=name_kana]").fill("Kita Ichiro")
        line.locator("input[name=birth_date]").fill("1950-04-01")
        line.locator("button.identify").click()
        expect(sakura.locator("#identify-problem")).to_have_text(
            "氏名は請求書のとおりカタカナ（またはひらがな）で入力してください")
        refused = sakura.locator(f"#lines tr[data-identify='{claim}']")
        expect(refused.locator("input[name=name_kana]")).to_have_value("Kita Ichiro")
        sakura.screenshot(path=shots / "register-identify-refused.png", full_page=True)
        assert office.audit("register.identify") == []

        # a checker sees what the claim waits for, and may not key it
        chika = sign_in(browser, base, "chika")
        chika.goto("/register")
        expect(chika.locator("#lines tr.needs-identity")).to_have_count(2)
        expect(chika.locator("form.identify")).to_have_count(0)
        assert _post(chika, f"/register/{claim}/identify",
                     {"name_kana": "キタイチロウ", "birth_date": "1950-04-01"}) == 403

        # 突合 before anyone keyed them: both rows need a person, and the report says why
        chika.goto("/register/totsugo")
        chika.locator(f"#lists tr[data-list='{listed}'] button.run").click()
        expect(chika.locator("#rows tr[data-outcome=unconfirmed]")).to_have_count(2)
        # nothing differs: there is nothing on the register's side to show beside the list's
        expect(chika.locator("#rows tr[data-outcome=unconfirmed] .register-side")).to_have_count(0)
        first = chika.locator("#rows tr[data-way='1']")
        expect(first).to_contain_text("要確認")
        # in the words the report's CSV and PDF use (storage/reconcile_words.needs)
        expect(first.locator(f".register-lacks[data-receipt='{claim}']")).to_be_visible()
        expect(first.locator(".needs")).to_contain_text(
            f"受付処理簿には {claim} の 氏名（カナ） / 生年月日 がありません。")
        expect(first.locator(".needs")).not_to_contain_text("一覧表のこの行には")
        expect(first.locator(".needs")).to_contain_text(
            "受付担当者が受付処理簿のその案件の行で氏名カナと生年月日を入力し")
        expect(first.locator("a")).to_have_attribute("href", f"/register#line-{claim}")
        chika.screenshot(path=shots / "totsugo-unconfirmed.png", full_page=True)

        # sakura keys the first claim (hiragana and 和暦 are read as the CLI reads them)
        sakura.goto("/register")
        line = sakura.locator(f"#lines tr[data-identify='{claim}']")
        line.locator("input[name=name_kana]").fill("きた いちろう")
        line.locator("input[name=birth_date]").fill("昭和25年4月1日")
        line.locator("button.identify").click()
        expect(sakura.locator("#lines tr.needs-identity")).to_have_count(1)
        expect(sakura.locator(f"#line-{other}")).to_have_class("needs-identity")
        expect(sakura.locator(f"#line-{claim}")).not_to_have_class("needs-identity")
        [keyed] = office.audit("register.identify")
        assert (keyed.actor, keyed.result) == ("sakura", "ok")

        # the report knows it was keyed since its run; reconciled again, the row matches
        chika.reload()
        expect(first.locator(f".keyed-since[data-receipt='{claim}']")).to_be_visible()
        expect(first.locator(".needs")).to_contain_text("一覧表の突合をやり直すと")
        chika.locator("#run-again").click()
        expect(chika.locator("#rows tr[data-row='1']")).to_have_attribute(
            "data-outcome", "matched")
        expect(chika.locator("#rows tr[data-outcome=unconfirmed]")).to_have_count(1)
        assert len(office.audit("reconcile.run")) == 2

        # rima confirms: the matched claim is filed, the other row stays, and the page
        # says its 突合 cannot run again
        rima = sign_in(browser, base, "rima")
        rima.goto(f"/register/totsugo/{listed}")
        rima.locator("#confirm").click()
        expect(rima.locator("#confirmed-by")).to_have_text("rima")
        expect(rima.locator("#run-again")).to_have_count(0)
        rest = rima.locator("#rows tr[data-way='2']")
        expect(rest.locator(f".register-lacks[data-receipt='{other}']")).to_be_visible()
        expect(rest.locator(".needs")).to_contain_text("確定済みのため、突合をやり直せません")
        rima.screenshot(path=shots / "totsugo-unconfirmed-confirmed.png", full_page=True)
        rima.goto("/register")
        expect(rima.locator(f"#line-{claim}")).to_have_count(0)  # filed: not open any more
        expect(rima.locator(f"#line-{other}")).to_have_class("needs-identity")
