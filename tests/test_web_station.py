"""The rooms in a real browser (Debian's Chromium driven by Playwright): a verifier works a
document with the keyboard only (Tab and Shift+Tab move), a second verifier keys the 個人番号
blind, a checker confirms or returns a change with a note (and is refused confirming their own
change), a document goes to 疑義 and back. Each step
asserts on the page and on the audit entries; screenshots of each room are saved."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.custody_data import PEOPLE
from tests.verification_data import Office, fresh_settings, open_office, status_of
from tests.web_browser import office_fixture, served, settled, shots_fixture, sign_in  # noqa: F401


def test_a_document_verified_with_the_keyboard_and_confirmed_by_a_second_person(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt, number = office_.receipts[0], PEOPLE[0]["my_number"]
    vera = sign_in(browser, base, "vera")
    expect(vera.locator("table.queue")).to_contain_text(receipt)
    expect(vera.locator("table.queue")).not_to_contain_text("山田")  # masked: 山＊＊＊
    vera.screenshot(path=shots / "station-queue.png", full_page=True)

    vera.goto(f"/station/doc/{receipt}")
    settled(vera)
    vera.screenshot(path=shots / "station-document.png", full_page=True)
    expect(vera.locator("[data-field=name_kana] .reason")).to_contain_text("紛らわしい文字")
    expect(vera.locator("[data-field=name_kana] mark")).to_have_text("ダ")
    expect(vera.locator("[data-field=my_number]")).not_to_contain_text(number)
    # the 個人番号 is keyed blind; Enter saves and the next field for review has the focus
    vera.keyboard.type(number)
    vera.keyboard.press("Enter")
    expect(vera.locator("[data-field=name_kana] input.entry")).to_be_focused()
    vera.keyboard.press("Enter")  # accept the kana as read
    expect(vera.locator("[data-field=birth_date] input.entry")).to_be_focused()
    vera.keyboard.type("1965-01-03")  # typing replaces
    vera.keyboard.press("Enter")
    expect(vera.locator("#finish")).to_be_focused()
    expect(vera.locator("[data-field=birth_date]")).to_contain_text("点検待ち")
    assert [(e.actor, e.result) for e in office_.audit("field.key")] == [("vera", "keying")]
    assert [e.actor for e in office_.audit("field.accept")] == ["vera"]
    assert [e.actor for e in office_.audit("field.correct")] == ["vera"]

    # a second verifier keys the number without seeing the reading or vera's entry
    vito = sign_in(browser, base, "vito")
    vito.goto(f"/station/doc/{receipt}")
    expect(vito.locator("[data-field=my_number] input.entry")).to_be_focused()
    assert number not in vito.content()
    vito.keyboard.type(number)
    vito.keyboard.press("Enter")
    expect(vito.locator("[data-field=my_number]")).to_contain_text("確定（点検済）")
    assert [e.result for e in office_.audit("field.key")] == ["keying", "confirmed"]

    # vera cannot confirm (no checker duty); the checker confirms with Enter twice
    chika = sign_in(browser, base, "chika")
    chika.goto(f"/station/doc/{receipt}")
    settled(chika)
    expect(chika.locator("[data-field=birth_date] .proposed")).to_have_text("1965-01-03")
    chika.screenshot(path=shots / "station-checker.png", full_page=True)
    expect(chika.locator("[data-field=name_kana] button.confirm")).to_be_focused()
    chika.keyboard.press("Enter")
    expect(chika.locator("[data-field=birth_date] button.confirm")).to_be_focused()
    chika.keyboard.press("Enter")
    expect(chika.locator("#doc-status")).to_have_attribute("data-status", "verified")
    expect(chika.locator("body")).to_contain_text("照合者: vera, vito · 確認者: chika")
    assert status_of(office_, receipt) == "verified"
    assert [e.actor for e in office_.audit("field.confirm")] == ["chika", "chika"]
    assert [e.actor for e in office_.audit("record.verified")] == ["chika"]


def test_no_one_confirms_their_own_change(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt = office_.receipts[1]
    both = sign_in(browser, base, "both")
    both.goto(f"/station/doc/{receipt}")
    both.locator("[data-field=name_kana] input.entry").fill("スズキハナコー")
    both.keyboard.press("Enter")
    both.wait_for_load_state("load")
    expect(both.locator("[data-field=name_kana] .hint")).to_contain_text("点検待ち")
    response = both.request.post(
        f"/station/doc/{receipt}/field/name_kana",
        form={"step": "confirm", "csrf": both.locator("body").get_attribute("data-csrf") or ""})
    assert response.status == 403 and "自分の訂正は確認できません" in response.text()
    assert [e.result for e in office_.audit("field.confirm")] == ["refused:FourEyesRefused"]
    # and without the CSRF token nothing is done at all
    forged = both.request.post(f"/station/doc/{receipt}/field/name_kana",
                               form={"step": "confirm"})
    assert forged.status == 403
    assert len(office_.audit("field.confirm")) == 1


def test_a_document_goes_to_investigation_and_back_by_a_decision(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt = office_.receipts[2]
    vera = sign_in(browser, base, "vera")
    vera.goto(f"/station/doc/{receipt}")
    vera.keyboard.press("F9")
    vera.keyboard.type("届出日が2つ書かれている")
    vera.keyboard.press("Enter")
    expect(vera.locator("#doc-status")).to_have_attribute("data-status", "investigation")
    assert [e.actor for e in office_.audit("record.investigate")] == ["vera"]

    chika = sign_in(browser, base, "chika")
    chika.goto(f"/station/doc/{receipt}")
    expect(chika.locator("#decide-note")).to_be_focused()
    chika.screenshot(path=shots / "station-investigation.png", full_page=True)
    chika.keyboard.type("本人に電話で確認した")
    chika.keyboard.press("Enter")
    expect(chika.locator("#doc-status")).to_have_attribute("data-status", "in_verification")
    expect(chika.locator(".steps")).to_contain_text("届出日が2つ書かれている")
    assert [(e.actor, e.detail) for e in office_.audit("record.decide")] == [
        ("chika", {"decision": "resume"})]

    # F8 sends a page back to the scanning desk, with its reason; the station moves on
    vera.goto(f"/station/doc/{office_.receipts[1]}")
    vera.keyboard.press("F8")
    vera.keyboard.type("頁の下が切れている")
    vera.keyboard.press("Enter")
    vera.wait_for_url("**/station")
    assert status_of(office_, office_.receipts[1]) == "rescan"
    assert [e.actor for e in office_.audit("record.rescan")] == ["vera"]


def test_an_idle_screen_locks_and_hides_the_record(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    settings = fresh_settings(tmp_path).model_copy(update={"idle_minutes": 0.05})  # 3 s
    office_ = open_office(settings, documents=1)
    with served(office_) as base:
        vera = sign_in(browser, base, "vera")
        vera.goto(f"/station/doc/{office_.receipts[0]}")
        expect(vera.locator("[data-field=name]")).to_contain_text("山田")
        vera.wait_for_url("**/signin?locked=1", timeout=15000)
        expect(vera.locator(".warning")).to_contain_text("画面をロックしました")
        assert "山田" not in vera.content()
        vera.screenshot(path=shots / "signin-locked.png", full_page=True)
        vera.goto(f"/station/doc/{office_.receipts[0]}")
        vera.wait_for_url("**/signin")  # the session ended: signed in again first
    assert [e.result for e in office_.audit("logout")] == ["ok"]


def test_the_rooms_speak_english_on_request(browser: Browser, office: tuple[Office, str],
                                            shots: Path) -> None:
    office_, base = office
    vera = sign_in(browser, base, "vera")
    expect(vera.locator("h1")).to_have_text("照合待ちの受付")
    vera.get_by_role("button", name="English").press("Enter")
    expect(vera.locator("h1")).to_have_text("Documents waiting for verification")
    vera.goto(f"/station/doc/{office_.receipts[0]}")
    expect(vera.locator("[data-field=birth_date] .reason")).to_have_text("no such day")
    settled(vera)
    vera.screenshot(path=shots / "station-document-en.png", full_page=True)


def test_group_verification_shows_one_type_across_documents(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    vera = sign_in(browser, base, "vera")
    vera.goto("/station/group?type=date")
    settled(vera)
    expect(vera.locator("ol.group li.field")).to_have_count(3)
    expect(vera.locator("ol.group li.field").first).to_contain_text("存在しない日付")
    vera.screenshot(path=shots / "station-group.png", full_page=True)
    vera.keyboard.type("1965-01-03")  # the first date has the focus; typing replaces
    vera.keyboard.press("Enter")
    expect(vera.locator("ol.group li.field")).to_have_count(2)
    expect(vera.locator("ol.group li.field input.entry").first).to_be_focused()
    vera.keyboard.press("Enter")  # the next one accepted as read
    expect(vera.locator("ol.group li.field")).to_have_count(1)
    assert [(e.actor, e.detail) for e in office_.audit("field.correct")] == [
        ("vera", {"field": "birth_date", "reason": "misread", "deleted": False})]
    assert [e.actor for e in office_.audit("field.accept")] == ["vera"]


def test_tab_and_shift_tab_move_between_the_fields(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    vera = sign_in(browser, base, "vera")
    vera.goto(f"/station/doc/{office_.receipts[0]}")
    settled(vera)
    entry = "[data-field={}] input.entry"
    expect(vera.locator(entry.format("my_number"))).to_be_focused()
    vera.keyboard.press("Tab")
    expect(vera.locator(entry.format("name_kana"))).to_be_focused()
    vera.keyboard.press("Tab")
    expect(vera.locator(entry.format("birth_date"))).to_be_focused()
    vera.keyboard.press("Shift+Tab")
    expect(vera.locator(entry.format("name_kana"))).to_be_focused()
    vera.keyboard.press("Shift+Tab")
    expect(vera.locator(entry.format("my_number"))).to_be_focused()
    assert office_.audit("field.accept") == [] and office_.audit("field.key") == []


def test_a_checker_returns_a_change_to_its_verifier_with_a_note(
    browser: Browser, office: tuple[Office, str], shots: Path
) -> None:
    office_, base = office
    receipt = office_.receipts[1]
    vera = sign_in(browser, base, "vera")
    vera.goto(f"/station/doc/{receipt}")
    vera.locator("[data-field=birth_date] input.entry").fill("1965-01-03")
    vera.keyboard.press("Enter")
    expect(vera.locator("[data-field=birth_date]")).to_contain_text("点検待ち")

    chika = sign_in(browser, base, "chika")
    chika.goto(f"/station/doc/{receipt}")
    settled(chika)
    expect(chika.locator("[data-field=birth_date] button.confirm")).to_be_focused()
    chika.keyboard.press("Tab")  # to the note; Enter there returns the change, never confirms
    chika.keyboard.type("申請書では1965-01-08と読める")
    chika.keyboard.press("Enter")
    expect(chika.locator("[data-field=birth_date]")).to_have_class("field field-review")
    chika.screenshot(path=shots / "station-returned.png", full_page=True)
    assert office_.audit("field.confirm") == []
    assert [(e.actor, e.detail) for e in office_.audit("field.return")] == [
        ("chika", {"field": "birth_date"})]

    vera.goto(f"/station/doc/{receipt}")
    returned = vera.locator("[data-field=birth_date]")
    expect(returned.locator("input.entry")).to_be_visible()
    expect(returned.locator(".history")).to_contain_text("申請書では1965-01-08と読める")
