"""The register room in a real browser: the register by age; a 進達 batch prepared by one
person (a checker) and checked and released by another (a records manager), the password
shown once on the page and nowhere else, the 書留番号 entered in the media ledger; a scanned
処理結果一覧表 reconciled by one person and confirmed by another, accepting the row whose
birth date differs. Each step asserts on the page and on the audit entries."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pyzipper
from playwright.sync_api import Browser, Page, expect

from kura.bench.keystrokes import serving
from kura.bench.synth.lists import render_list
from schemas.i18n import speaking
from schemas.settings import Settings
from storage.reconcile_words import needs
from storage.usecases import reconciliation as r
from storage.usecases import verification as v
from tests.register_data import (
    file_planted,
    from_row,
    list_as_read,
    open_register,
    support_claim,
    take_list,
    tiff,
    token,
)
from tests.verification_data import Office
from tests.web_browser import settled, shots_fixture, sign_in  # noqa: F401

LIST_SEED = 1
"""One page of 6 rows; rows 0, 2 and 4 are of forms the office receives (tests/register_data.py)."""
MATCHED = (0, 2)
DIFFERENT = 4
"""The office has this person born a day later than the list prints."""


def _office(tmp_path: Path, truth: dict[str, Any]) -> Office:
    """The list's municipality, with its rows 0 and 2 received as printed and row 4 with
    another birth date; vera verifies all three."""
    settings = Settings(data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        municipality_code=truth["header"]["municipality_code"],
                        office="札幌市 保険年金課")
    open_register(settings)
    rows = truth["rows"]
    day_after = (dt.date.fromisoformat(rows[DIFFERENT]["birth_date"])
                 + dt.timedelta(days=1)).isoformat()
    planted = [from_row(rows[i]) for i in MATCHED]
    planted.append(from_row(rows[DIFFERENT], birth_date=day_after))
    receipts = file_planted(settings, planted)
    vera = token(settings, "vera")
    for receipt in receipts:
        assert v.finish(settings, vera, receipt) == "verified"
    return Office(settings, receipts, "")


def _post(page: Page, url: str, form: dict[str, str]) -> int:
    """A form posted from this person's session, past what their page offers them (the
    server refuses on its own, not only by hiding a button)."""
    csrf = page.locator("body").get_attribute("data-csrf") or ""
    return page.request.post(url, form={"csrf": csrf, **form}).status


def test_shintatsu_by_two_people_and_totsugo_confirmed_by_another(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    images, truth = render_list(LIST_SEED, pages=1, rows_per_page=6)
    office = _office(tmp_path, truth)
    settings, receipts = office.settings, office.receipts
    with serving(settings) as base:
        # the register: three verified items, none yet forwarded
        chika = sign_in(browser, base, "chika")
        chika.get_by_role("link", name="受付処理簿").click()
        expect(chika.locator("h1")).to_have_text("未完結の届書")
        for receipt in receipts:
            expect(chika.locator("#lines")).to_contain_text(receipt)
        expect(chika.locator("#lines tr[data-stage=verified]")).to_have_count(3)
        chika.screenshot(path=shots / "register-open.png", full_page=True)

        # 進達: chika prepares the batch and may not release it
        chika.get_by_role("link", name="進達と記録媒体管理台帳").click()
        boxes = chika.locator("#ready input[name=receipts]")
        expect(boxes).to_have_count(3)
        for index in range(3):  # none ticked is not "all of them"
            boxes.nth(index).uncheck()
        chika.locator("#prepare").click()
        expect(chika.locator("#problem")).to_contain_text("一つ以上選んでください")
        assert office.audit("transmittal.prepare") == []
        chika.locator("#prepare").click()
        number = chika.locator("#batch-number").inner_text()
        expect(chika.locator("#prepared-by")).to_contain_text("chika")
        expect(chika.locator("#not-yours")).to_be_visible()
        expect(chika.locator("#release")).to_have_count(0)
        addressee = chika.locator("#batch-addressee").inner_text()
        assert _post(chika, f"/register/shintatsu/{number}/release",
                     {"addressee": addressee, "items": "3"}) == 403
        chika.screenshot(path=shots / "register-batch-prepared.png", full_page=True)
        [prepared] = office.audit("transmittal.prepare")
        assert prepared.actor == "chika" and prepared.detail == {"items": 3}
        [refused] = office.audit("transmittal.release")
        assert (refused.actor, refused.result) == ("chika", "refused:SamePerson")

        # rima checks it: a wrong count is refused, the right one releases it
        rima = sign_in(browser, base, "rima")
        rima.goto(f"/register/shintatsu/{number}")
        rima.fill("#check-addressee", addressee)
        rima.fill("#check-items", "2")
        rima.locator("#release").click()
        expect(rima.locator("#problem")).to_contain_text("宛先または件数が進達の内容と違います")
        expect(rima.locator("#batch-status")).to_have_text("作成済み（確認待ち）")
        rima.screenshot(path=shots / "register-release-refused.png", full_page=True)
        rima.fill("#check-addressee", addressee)
        rima.fill("#check-items", "3")
        rima.locator("#release").click()
        password = rima.locator("#password").inner_text()
        assert len(password) >= 12 and password not in rima.url
        with rima.expect_download() as saved:
            rima.locator("#archive").click()
        archive = Path(saved.value.path()).read_bytes()
        sha = rima.locator("#released-sha").inner_text()
        assert hashlib.sha256(archive).hexdigest() == sha
        with pyzipper.AESZipFile(io.BytesIO(archive)) as opened:
            opened.setpassword(password.encode())
            records = opened.read("records.csv").decode("utf-8-sig")
        assert all(receipt in records for receipt in receipts)
        rima.screenshot(path=shots / "register-released.png", full_page=True)
        released = office.audit("transmittal.release")[-1]
        assert (released.actor, released.result) == ("rima", "ok")
        assert released.detail == {"items": 3, "sha256": sha}
        assert not any(password in str(e.detail) for e in office.audit("transmittal.release"))
        # the password is not on the batch's page once the answer is gone
        rima.goto(f"/register/shintatsu/{number}")
        assert password not in rima.content()
        expect(rima.locator("#released-by")).to_contain_text("rima")

        # the 書留番号 and the scan of its 差出票, in the media ledger
        rima.fill("#mail-number-entry", "1234-5678-9012")
        rima.set_input_files("#receipt-scan", files=[{
            "name": "sashidashi.pdf", "mimeType": "application/pdf",
            "buffer": b"%PDF-1.4 scan of the receipt"}])
        rima.locator("#record-mail").click()
        expect(rima.locator("#mail-number")).to_contain_text("1234-5678-9012")
        [mailed] = office.audit("transmittal.mail")
        assert mailed.actor == "rima" and mailed.detail == {"receipt_scan": True}
        rima.goto("/register/shintatsu")
        ledger = rima.locator(f"#ledger tr[data-batch='{number}']")
        expect(ledger).to_contain_text("chika")
        expect(ledger).to_contain_text("rima")
        expect(ledger).to_contain_text(sha[:16])
        expect(ledger).to_contain_text("1234-5678-9012")
        rima.screenshot(path=shots / "register-ledger.png", full_page=True)

        # 突合: the list is scanned in; chika reconciles it and may not confirm it
        (listed,) = take_list(settings, token(settings, "sakura"), tiff(images))
        chika.goto("/register/totsugo")
        row = chika.locator(f"#lists tr[data-list='{listed}']")
        expect(row).to_contain_text("未突合")
        chika.screenshot(path=shots / "register-totsugo-lists.png", full_page=True)
        row.locator("button.run").click()
        expect(chika.locator("#list-receipt")).to_have_text(listed)
        expect(chika.locator("#run-by")).to_have_text("chika")
        expect(chika.locator("#rows tr[data-outcome=matched]")).to_have_count(len(MATCHED))
        different = chika.locator(f"#rows tr[data-row='{DIFFERENT + 1}']")
        expect(different).to_have_attribute("data-outcome", "matched_with_differences")
        expect(different.locator(".register-side")).to_contain_text(
            (dt.date.fromisoformat(truth["rows"][DIFFERENT]["birth_date"])
             + dt.timedelta(days=1)).isoformat())
        expect(chika.locator("#not-yours")).to_be_visible()
        expect(chika.locator("#confirm")).to_have_count(0)
        assert _post(chika, f"/register/totsugo/{listed}/confirm", {}) == 403
        chika.screenshot(path=shots / "register-totsugo-report.png", full_page=True)
        [run] = office.audit("reconcile.run")
        assert run.actor == "chika" and run.detail is not None
        assert run.detail["matched"] == len(MATCHED)
        refusals = [e for e in office.audit("reconcile.confirm") if e.actor == "chika"]
        assert [e.result for e in refusals] == ["refused:SamePerson"]

        # rima confirms, accepting the row whose birth date she checked
        rima.goto(f"/register/totsugo/{listed}")
        rima.locator(f"#rows input[name=accept][value='{DIFFERENT + 1}']").check()
        rima.locator("#confirm").click()
        expect(rima.locator("#confirmed-by")).to_have_text("rima")
        expect(rima.locator("#report-status")).to_contain_text("確定")
        with rima.expect_download() as saved:
            rima.locator("#report-csv").click()
        report = Path(saved.value.path()).read_bytes().decode("utf-8-sig").splitlines()
        assert report[0].startswith("番号,頁,") and len(report) == 1 + len(truth["rows"])
        rima.screenshot(path=shots / "register-totsugo-confirmed.png", full_page=True)
        confirmed = [e for e in office.audit("reconcile.confirm") if e.result == "ok"]
        assert [e.actor for e in confirmed] == ["rima"]
        assert confirmed[0].detail is not None
        assert confirmed[0].detail["filed"] == 3 and confirmed[0].detail["accepted"] == 1

        # a scanning clerk reads the register and the ledger, and prepares, releases,
        # reconciles and confirms nothing
        sakura = sign_in(browser, base, "sakura")
        sakura.goto("/register/shintatsu")
        expect(sakura.locator("#ledger")).to_contain_text(number)
        expect(sakura.locator("#prepare")).to_have_count(0)
        sakura.goto("/register/totsugo")
        expect(sakura.locator("#lists")).to_contain_text(listed)
        expect(sakura.locator("button.run")).to_have_count(0)
        assert _post(sakura, f"/register/totsugo/{listed}/csv", {}) == 403

        # filed: the three leave the open items; the weekly counts say what happened
        rima.goto("/register")
        for receipt in receipts:
            expect(rima.locator("#lines")).not_to_contain_text(receipt)
        rima.goto("/register/weekly?weeks=104")
        expect(rima.locator("#weekly")).to_be_visible()
        settled(rima)
        rima.screenshot(path=shots / "register-weekly.png", full_page=True)


def test_a_list_with_a_page_missing_is_refused_on_the_page_with_its_reason(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    """Pages 1 and 3 of a three-page list, taken in at the 突合 tab: the scanning clerk
    reads there why it cannot be used, the verifier who runs its 突合 reads it again, and
    the list stays as it came, not reconciled."""
    pages, truth = render_list(LIST_SEED, pages=3, rows_per_page=2)
    settings = Settings(data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        municipality_code=truth["header"]["municipality_code"])
    open_register(settings)
    with serving(settings) as base:
        sakura = sign_in(browser, base, "sakura")
        sakura.goto("/register/totsugo")
        sakura.set_input_files("#list-scans", files=[{
            "name": "kekka.tif", "mimeType": "image/tiff",
            "buffer": tiff([pages[0], pages[2]])}])
        sakura.locator("#take").click()
        expect(sakura.locator("#taken")).to_have_attribute("data-reading", "0",
                                                           timeout=300_000)
        taken = sakura.locator("#taken .taken-list")
        listed = taken.get_attribute("data-taken") or ""
        expect(taken).to_contain_text("このままでは突合できません")
        expect(taken.locator(".problems")).to_contain_text("一覧表の 2 頁がありません")
        expect(sakura.locator(f"#lists tr[data-list='{listed}']")).to_contain_text("未突合")
        sakura.screenshot(path=shots / "register-list-taken-unusable.png", full_page=True)
        office = Office(settings, [listed], "")
        vito = sign_in(browser, base, "vito")
        vito.goto("/register/totsugo")
        with vito.expect_response(f"**/register/totsugo/{listed}/run") as answer:
            vito.locator(f"#lists tr[data-list='{listed}'] button.run").click()
        assert answer.value.status == 409
        expect(vito.locator("#problem")).to_contain_text(listed)
        expect(vito.locator("#problem")).to_contain_text("一覧表の 2 頁がありません")
        expect(vito.locator(f"#lists tr[data-list='{listed}']")).to_contain_text("未突合")
        vito.screenshot(path=shots / "register-list-refused.png", full_page=True)
    assert office.audit("reconcile.run") == []
    viewed = [e.actor for e in office.audit("reconcile.overview") if e.actor != "sakura"]
    assert viewed == ["vito", "vito"]


def _pdf_text(data: bytes, tmp_path: Path) -> tuple[int, str]:
    """The pages of a PDF and its text, as poppler reads them."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(next(line.split()[-1] for line in info.stdout.splitlines()
                     if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return pages, text


def test_a_list_taken_in_at_the_room_reconciled_and_its_report_printed(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    """A scanning clerk takes a two-page list in from the 突合 tab (not the desk, not the
    CLI) and reads that it can be reconciled; a checker runs its 突合 and downloads the
    report as PDF: two A4 pages (30 rows a page) with every row's 基礎年金番号, through the
    report's own use case and audit entry, as the CSV."""
    images, truth = render_list(LIST_SEED, pages=2, rows_per_page=16)
    rows = truth["rows"]
    assert len(rows) == 32
    office = _office(tmp_path, truth)
    with serving(office.settings) as base:
        sakura = sign_in(browser, base, "sakura")
        sakura.goto("/register/totsugo")
        expect(sakura.locator("#lists")).to_contain_text("処理結果一覧表はまだ受け付けていません")
        sakura.set_input_files("#list-scans", files=[{
            "name": "kekka.tif", "mimeType": "image/tiff", "buffer": tiff(images)}])
        sakura.locator("#take").click()
        expect(sakura.locator("#taken")).to_have_attribute("data-reading", "0",
                                                           timeout=300_000)
        taken = sakura.locator("#taken .taken-list")
        expect(taken).to_have_count(1)
        listed = taken.get_attribute("data-taken") or ""
        expect(taken).to_contain_text("2 頁、32 行")
        expect(taken).to_contain_text("突合できます。")
        expect(sakura.locator(f"#lists tr[data-list='{listed}']")).to_contain_text("未突合")
        expect(sakura.locator("button.run")).to_have_count(0)
        settled(sakura)
        sakura.screenshot(path=shots / "register-list-taken.png", full_page=True)
        [batch] = office.audit("intake.batch")[-1:]
        assert batch.actor == "sakura"

        chika = sign_in(browser, base, "chika")
        chika.goto("/register/totsugo")
        chika.locator(f"#lists tr[data-list='{listed}'] button.run").click()
        expect(chika.locator("#list-receipt")).to_have_text(listed)
        expect(chika.locator("#rows tr[data-row]")).to_have_count(len(rows))
        with chika.expect_download() as saved:
            chika.locator("#report-pdf").click()
        assert saved.value.suggested_filename == f"totsugo_{listed}.pdf"
        data = Path(saved.value.path()).read_bytes()
        assert data.startswith(b"%PDF-")
        pages, text = _pdf_text(data, tmp_path)
        assert pages == 2 and "1/2" in text and "2/2" in text
        assert "突合結果" in text and listed in text and "突合済み（確定待ち）" in text
        # the office's three items are found; whether a name read from the print equals the
        # register's (一致) or waits for a person beside it (相違あり) is the reader's business
        matched, differing = (int(re.search(f"{word}: (\\d+)", text)[1])  # type: ignore[index]
                              for word in ("一致", "相違あり"))
        assert matched + differing == len(office.receipts) == 3
        for receipt in office.receipts:  # whole in its column, not cut
            assert receipt in text, receipt
        for row in rows:
            assert row["basic_pension_number"] in text, row["basic_pension_number"]
        printed = office.audit("reconcile.report.file")  # a file of personal values
        assert [(e.actor, e.result, e.detail) for e in printed] == [
            ("chika", "ok", {"format": "pdf", "rows": len(rows)})]
        chika.screenshot(path=shots / "register-totsugo-pdf.png", full_page=True)

        # a person without the report's duty gets no PDF of it
        assert _post(sakura, f"/register/totsugo/{listed}/pdf", {}) == 403


OFFICE, OTHER = "011002", "012025"
RECEIVED = dt.date.today() - dt.timedelta(days=20)


def _claim_row(number: str, bpn: str) -> dict[str, str]:
    """A list row for a 年金生活者支援給付金 claim, name kana and birth date printed."""
    return {"number": number, "basic_pension_number": bpn, "name_kana": "キタイチロウ",
            "birth_date": "1950-04-01", "notification_type": "年金生活者支援給付金請求",
            "received_date": (RECEIVED + dt.timedelta(days=4)).isoformat(),
            "processed_date": (RECEIVED + dt.timedelta(days=15)).isoformat(),
            "result": "処理済"}


def test_the_report_page_says_what_each_row_needs_in_the_words_of_its_files(
    browser: Browser, tmp_path: Path, shots: Path
) -> None:
    """Under each row a person must look at, the report page says what it needs as the CSV
    and the PDF do (storage/reconcile_words.needs): an unconfirmed row (what the register
    lacks, and the way to the item's line), an unreadable one with its page, and a row of
    another municipality's list; rows that settle themselves say nothing."""
    settings = Settings(data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        municipality_code=OFFICE, office="札幌市 保険年金課")
    open_register(settings)
    (claim,) = file_planted(settings, [support_claim(RECEIVED)])
    ours = list_as_read(settings, OFFICE, [_claim_row("1", "123456789"),  # 9 digits
                                           _claim_row("2", "1111222233")])
    theirs = list_as_read(settings, OFFICE, [_claim_row("1", "5555666677")], printed=OTHER)
    with serving(settings) as base:
        chika = sign_in(browser, base, "chika")
        said: dict[str, list[str]] = {}
        for listed in (ours, theirs):
            chika.goto("/register/totsugo")
            chika.locator(f"#lists tr[data-list='{listed}'] button.run").click()
            expect(chika.locator("#list-receipt")).to_have_text(listed)
            report = r.report(settings, token(settings, "chika"), listed)
            with speaking("ja"):
                said[listed] = [needs(line, report.status) for line in report.rows]
            assert all(said[listed])
            rows = chika.locator("#rows tr[data-row]")
            expect(rows).to_have_count(len(report.rows))
            expect(chika.locator("#rows tr.needs-person")).to_have_count(len(report.rows))
            for line, words in zip(report.rows, said[listed], strict=True):
                way = chika.locator(f"#rows tr[data-way='{line.number}']")
                expect(way).to_have_attribute("data-needs", line.outcome)
                expect(way.locator(".needs")).to_contain_text(f"要確認： {words}")
            chika.screenshot(path=shots / f"totsugo-needs-{listed}.png", full_page=True)

        unreadable, unconfirmed = said[ours]
        assert "基礎年金番号（123456789）が10桁ではありません" in unreadable
        assert "一覧表の 1 頁で確かめてください" in unreadable
        assert f"受付処理簿には {claim} の 氏名（カナ） / 生年月日 がありません" in unconfirmed
        chika.goto(f"/register/totsugo/{ours}")
        expect(chika.locator("#rows tr[data-row='1']")).to_have_attribute(
            "data-outcome", "unreadable")
        lacking = chika.locator(f"#rows tr[data-way='2'] .register-lacks[data-receipt='{claim}']")
        expect(lacking.locator("a")).to_have_attribute("href", f"/register#line-{claim}")
        (other,) = said[theirs]
        assert "他の市区町村の一覧表の行です" in other
        chika.goto(f"/register/totsugo/{theirs}")
        expect(chika.locator("#rows tr[data-row='1']")).to_have_attribute(
            "data-outcome", "other_municipality")
        # the room's words and the CSV's last column are one and the same
        with chika.expect_download() as saved:
            chika.locator("#report-csv").click()
        csv_rows = Path(saved.value.path()).read_bytes().decode("utf-8-sig").splitlines()
        assert csv_rows[1].endswith(other)
