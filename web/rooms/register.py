"""The register room: the register (受付処理簿) by age, overdue and weekly, with its CSV for
Excel; 進達 batches prepared by one person and checked and released by another, and the media
ledger (記録媒体管理台帳) with the 書留番号; each 処理結果一覧表 taken in (as `kura totsugo take`
does), its 突合, its report (CSV and PDF) and the confirmation by another person. Every step is
a use case (storage/usecases/intake.py, register.py, transmittals.py, reconciliation.py),
which checks the duty and the four eyes itself."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from schemas.errors import InvalidInput, KuraError
from storage.queries import mask_name
from storage.reconcile_words import needs, outcome_word
from storage.usecases import desk, intake
from storage.usecases import reconciliation as r
from storage.usecases import register as reg
from storage.usecases import transmittals as t
from web.rooms.common import back_to, check_csrf, render, settings_of, signed_in, token_of
from workers.intake import INTAKE_CHECKS, Arrival
from workers.register import build_transmittal, match, report_pdf
from workers.runner import run_pages

router = APIRouter(prefix="/register")
Csrf = [Depends(check_csrf)]


# --- The register ------------------------------------------------------------------------------


@router.get("")
def open_items(request: Request) -> Response:
    return _open_page(request)


def _open_page(request: Request, identifying: dict[str, Any] | None = None) -> Response:
    """The open items; `identifying`: a forward-only item's counter identity that was
    refused (its 受付番号, what was typed and why), shown again on its line."""
    me = signed_in(request)
    lines = reg.open_items(settings_of(request), token_of(request))
    return render(request, "register/lines.html", me, lines=lines, view="open",
                  words=_words(), identifying=identifying or {},
                  status_code=400 if identifying else 200, back="/register")


@router.post("/{receipt}/identify", dependencies=Csrf)
def identify(request: Request, receipt: str, name_kana: Annotated[str, Form()] = "",
             birth_date: Annotated[str, Form()] = "") -> Response:
    """A forward-only item's name kana and birth date, keyed at the counter as `kura
    register identify` does (the same use case): what 突合 confirms its result by."""
    signed_in(request)
    try:
        reg.identify(settings_of(request), token_of(request), receipt, name_kana, birth_date)
    except InvalidInput as error:  # typed in a way it cannot read: say so on its line
        return _open_page(request, {"receipt": receipt, "problem": error,
                                    "name_kana": name_kana, "birth_date": birth_date})
    return back_to(f"/register#line-{receipt}")


@router.get("/overdue")
def overdue(request: Request, days: int | None = None) -> Response:
    me = signed_in(request)
    settings = settings_of(request)
    days = settings.result_overdue_days if days is None else max(days, 0)
    lines = reg.overdue(settings, token_of(request), days)
    return render(request, "register/lines.html", me, lines=lines, view="overdue",
                  days=days, words=_words(), back=f"/register/overdue?days={days}")


def _words() -> dict[str, Any]:
    """The register's stages and routes in the person's words (the use cases' own)."""
    return {"stage": reg.stage_word, "route": reg.route_word}


@router.get("/weekly")
def weekly(request: Request, weeks: int = 8) -> Response:
    me = signed_in(request)
    weeks = min(max(weeks, 1), 104)
    counts = reg.weekly(settings_of(request), token_of(request), weeks)
    return render(request, "register/weekly.html", me, counts=counts, weeks=weeks,
                  back=f"/register/weekly?weeks={weeks}")


@router.post("/export", dependencies=Csrf)
def export(request: Request, encoding: Annotated[str, Form()] = "utf-8-sig") -> Response:
    """The whole register for Excel (UTF-8 with BOM, or CP932); no personal value in it."""
    signed_in(request)
    cp932 = encoding == "cp932"
    data = reg.export_csv(settings_of(request), token_of(request),
                          "cp932" if cp932 else "utf-8-sig")
    return _download(data, f"register_{dt.date.today():%Y%m%d}.csv",
                     f"text/csv; charset={'shift_jis' if cp932 else 'utf-8'}")


def _download(data: bytes, filename: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store, private"})


# --- 進達 ----------------------------------------------------------------------------------------


@router.get("/shintatsu")
def shintatsu(request: Request) -> Response:
    return _shintatsu_page(request)


def _shintatsu_page(request: Request, nothing_chosen: bool = False) -> Response:
    me = signed_in(request)
    settings, token = settings_of(request), token_of(request)
    ledger = t.ledger(settings, token)
    ready = [line for line in reg.open_items(settings, token)
             if line.stage == "verified" and not line.transmittal]
    return render(request, "register/shintatsu.html", me, ledger=ledger, ready=ready,
                  addressee=settings.jps_addressee, purpose=t.PURPOSE,
                  nothing_chosen=nothing_chosen, status_code=400 if nothing_chosen else 200,
                  back="/register/shintatsu")


@router.post("/shintatsu/prepare", dependencies=Csrf)
async def prepare(request: Request, addressee: Annotated[str, Form()] = "",
                  purpose: Annotated[str, Form()] = "") -> Response:
    signed_in(request)
    receipts = [n for n in (await request.form()).getlist("receipts") if isinstance(n, str)]
    if not receipts:  # the use case would take every item ready: never by unticking all
        return _shintatsu_page(request, nothing_chosen=True)
    batch = t.prepare(settings_of(request), token_of(request), receipts, purpose or t.PURPOSE,
                      addressee)
    return back_to(f"/register/shintatsu/{batch.number}")


@router.get("/shintatsu/{number}")
def batch(request: Request, number: str) -> Response:
    return _batch_page(request, number)


def _batch_page(request: Request, number: str, problem: KuraError | None = None) -> Response:
    me = signed_in(request)
    shown = t.show(settings_of(request), token_of(request), number)
    line = next((b for b in t.ledger(settings_of(request), token_of(request))
                 if b.number == number), None)
    return render(request, "register/batch.html", me, batch=shown, line=line,
                  problem=problem, status_code=400 if problem else 200,
                  back=f"/register/shintatsu/{number}")


@router.post("/shintatsu/{number}/release", dependencies=Csrf)
def release(request: Request, number: str, addressee: Annotated[str, Form()],
            items: Annotated[int, Form()]) -> Response:
    """The second person's check and release. The answer carries the archive and the 送付書
    to save onto the medium and the password, this once: never in a URL or a log, and the
    page is not cached (web/security.py)."""
    me = signed_in(request)
    try:
        released = t.release(settings_of(request), token_of(request), number, addressee,
                             items, build_transmittal)
    except InvalidInput as error:  # what was typed differs from the batch: say so there
        return _batch_page(request, number, error)
    return render(request, "register/released.html", me, released=released,
                  archive=_data_url("application/zip", released.archive),
                  cover_note=_data_url("application/pdf", released.cover_note_pdf),
                  back=f"/register/shintatsu/{number}")


def _data_url(media_type: str, data: bytes) -> str:
    """The file inside the page itself: it exists only in this answer, as the password does
    (Kura keeps the archive sealed, never a copy to fetch again by URL)."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@router.post("/shintatsu/{number}/mail", dependencies=Csrf)
async def registered_mail(request: Request, number: str,
                          mail_number: Annotated[str, Form()]) -> Response:
    signed_in(request)
    scan = (await request.form()).get("receipt_scan")
    data = await scan.read() if isinstance(scan, UploadFile) else b""
    t.registered_mail(settings_of(request), token_of(request), number, mail_number,
                      data or None)
    return back_to(f"/register/shintatsu/{number}")


# --- 突合 ----------------------------------------------------------------------------------------


@router.get("/totsugo")
def totsugo(request: Request) -> Response:
    return _lists_page(request)


def _lists_page(request: Request, problem: KuraError | None = None,
                taken: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    me = signed_in(request)
    lists = r.reconciliations(settings_of(request), token_of(request))
    return render(request, "register/totsugo.html", me, lists=lists, problem=problem,
                  taken=taken, status_code=409 if problem else status_code,
                  outcome_word=outcome_word, back="/register/totsugo")


@router.post("/totsugo/take", dependencies=Csrf)
async def take(request: Request, background: BackgroundTasks) -> Response:
    """Scans of a 処理結果一覧表 taken in as `kura totsugo take` does: sealed as originals
    by the intake use case, then read (the page workers); the answer follows the batch."""
    signed_in(request)
    form = await request.form(max_files=100)
    arrivals = [Arrival(part.filename, await part.read()) for part in form.getlist("scans")
                if isinstance(part, UploadFile) and part.filename]  # none: no file picked
    settings = settings_of(request)
    if not arrivals:
        return _lists_page(request, taken={"nothing_sent": True}, status_code=400)
    result = intake.take_in_batch(settings, token_of(request), arrivals, "upload",
                                  INTAKE_CHECKS)
    background.add_task(run_pages, settings, result.page_ids)
    return back_to(f"/register/totsugo/taken/{result.batch_id}")


@router.get("/totsugo/taken/{batch_id}")
def taken(request: Request, batch_id: str) -> Response:
    """The lists as they were taken in, above every list: while the pages are read, how far
    they are (the page asks again by itself); then each list the scans held, its pages and
    rows and what would stop its 突合, and the files turned away with their reasons."""
    settings, token = settings_of(request), token_of(request)
    progress = desk.progress(settings, token, batch_id)
    # the last page read, its document may still be assembled: wait as the CLI does
    reading = not progress.finished or intake.batch_busy(settings, batch_id)
    found = [] if reading else r.lists_of_batch(settings, token, batch_id)
    return _lists_page(request, taken={"progress": progress, "reading": reading,
                                       "lists": found})


@router.post("/totsugo/{receipt}/run", dependencies=Csrf)
def run(request: Request, receipt: str) -> Response:
    signed_in(request)
    try:
        r.reconcile(settings_of(request), token_of(request), receipt, match)
    except r.ListNotUsable as error:  # pages missing or foreign: the reasons, in words
        return _lists_page(request, error)
    return back_to(f"/register/totsugo/{receipt}")


@router.get("/totsugo/{receipt}")
def report(request: Request, receipt: str) -> Response:
    me = signed_in(request)
    found = r.report(settings_of(request), token_of(request), receipt)
    return render(request, "register/report.html", me, report=found,
                  rows=[_row(line, found.status) for line in found.rows],
                  outcome_word=outcome_word,
                  back=f"/register/totsugo/{receipt}")


def _row(line: r.RowLine, status: str) -> dict[str, Any]:
    """A report row as the page shows it: a row that settles itself (matched, or its
    differences accepted) is masked as the queue is; a row a person must look at shows
    what the list prints and, where they differ, what the register holds, and under it what
    it needs in the words the CSV and the PDF use (`needs`: unconfirmed, unreadable with its
    page, another municipality's row)."""
    side = line.list_side
    settled = line.outcome == "matched" or line.accepted
    number = side.get("basic_pension_number", "")
    return {
        "line": line, "outcome": outcome_word(line.outcome), "settled": settled,
        "basic_pension_number": number[:4] + "＊" * len(number[4:]) if settled else number,
        "name_kana": mask_name(side.get("name_kana", "")) if settled
        else side.get("name_kana", ""),
        "birth_date": "" if settled else side.get("birth_date", ""),
        "register_side": {} if settled else line.register_side,
        "needs": needs(line, status),
    }


@router.post("/totsugo/{receipt}/confirm", dependencies=Csrf)
async def confirm(request: Request, receipt: str) -> Response:
    signed_in(request)
    accept = [int(n) for n in (await request.form()).getlist("accept")
              if isinstance(n, str) and n.isdigit()]
    r.confirm(settings_of(request), token_of(request), receipt, accept)
    return back_to(f"/register/totsugo/{receipt}")


@router.post("/totsugo/{receipt}/csv", dependencies=Csrf)
def report_download(request: Request, receipt: str) -> Response:
    """The report as the CLI writes it (`kura totsugo show --csv`), from the same use case
    and audit entry: a POST, so the personal values in it never travel through a link
    someone could follow again."""
    signed_in(request)
    data = r.report_file(settings_of(request), token_of(request), receipt, "csv", report_pdf)
    return _download(data, f"totsugo_{receipt}.csv", "text/csv; charset=utf-8")


@router.post("/totsugo/{receipt}/pdf", dependencies=Csrf)
def report_print(request: Request, receipt: str) -> Response:
    """The report printed on A4, as `kura totsugo show --pdf` writes it: the same use case
    and audit entry as the CSV, and a POST for the same reason."""
    signed_in(request)
    data = r.report_file(settings_of(request), token_of(request), receipt, "pdf", report_pdf)
    return _download(data, f"totsugo_{receipt}.pdf", "application/pdf")
