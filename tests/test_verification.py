"""Verification: history of every value, four-eyes, double-blind keying, 疑義, and the
refusal to dispose of what nobody verified — on SQLite, and once on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from schemas.errors import InvalidInput
from schemas.settings import Settings
from storage.accounts import NotAllowed
from storage.blind_index import find_documents
from storage.db import session_scope
from storage.models import Document, VerificationEvent
from storage.runtime import indexer_for
from storage.usecases import verification as v
from tests.custody_data import PEOPLE
from tests.verification_data import Office, fresh_settings, open_office, status_of


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return open_office(fresh_settings(tmp_path))


def _work_through(office: Office, receipt: str) -> None:
    """vera accepts the kana, corrects the date; vera and vito key the 個人番号 blind."""
    vera = office.token("vera")
    v.accept(office.settings, vera, receipt, "name_kana")
    v.correct(office.settings, vera, receipt, "birth_date", "1965-01-03", "misread")
    assert v.key(office.settings, vera, receipt, "my_number", PEOPLE[0]["my_number"]) == "keying"
    assert v.key(office.settings, office.token("vito"), receipt, "my_number",
                 PEOPLE[0]["my_number"]) == "confirmed"


def test_a_document_is_verified_by_two_people_and_every_value_is_kept(office: Office) -> None:
    receipt = office.receipts[0]
    _work_through(office, receipt)
    chika = office.token("chika")
    v.confirm(office.settings, chika, receipt, "name_kana")
    assert v.confirm(office.settings, chika, receipt, "birth_date") == "verified"
    assert status_of(office, receipt) == "verified"

    view = v.open_document(office.settings, chika, receipt)
    assert view.verified_by == ["vera", "vito"] and view.confirmed_by == ["chika"]
    birth = next(f for f in view.fields if f.name == "birth_date")
    assert birth.value == "1965-01-03"
    assert [(s.kind, s.value, s.by) for s in birth.history] == [
        ("read", "1965-01-02", "machine"), ("correct", "1965-01-03", "vera"),
        ("confirm", "1965-01-03", "chika")]
    assert birth.history[1].reason == "misread"
    # search follows the confirmed value
    with session_scope(office.settings.sqlalchemy_url) as session:
        found = find_documents(session, indexer_for(office.settings), "birth_date",
                               "1965-01-03")
        assert [d.receipt_number for d in found] == [receipt]
    assert [e.result for e in office.audit("field.correct")] == ["pending"]
    assert [e.actor for e in office.audit("record.verified")] == ["chika"]


def test_the_server_refuses_a_confirmation_by_the_changer_or_by_both_duties(
    office: Office,
) -> None:
    receipt = office.receipts[0]
    both = office.token("both")
    v.correct(office.settings, both, receipt, "name_kana", "ヤマダタロー", "misread")
    with pytest.raises(v.FourEyesRefused, match="you made this change"):
        v.confirm(office.settings, both, receipt, "name_kana")
    v.correct(office.settings, office.token("vera"), receipt, "birth_date", "1965-01-03")
    with pytest.raises(v.FourEyesRefused, match="both"):
        v.confirm(office.settings, both, receipt, "birth_date")
    with pytest.raises(NotAllowed):
        v.confirm(office.settings, office.token("vito"), receipt, "birth_date")
    assert [e.result for e in office.audit("field.confirm")] == [
        "refused:FourEyesRefused"] * 2
    assert status_of(office, receipt) == "in_verification"
    # a return sends it back to review with a note
    v.return_change(office.settings, office.token("chika"), receipt, "birth_date",
                    "the paper says 2日")
    view = v.open_document(office.settings, office.token("chika"), receipt)
    birth = next(f for f in view.fields if f.name == "birth_date")
    assert birth.status == "review" and birth.history[-1].note == "the paper says 2日"


def test_double_blind_keying_hides_the_reading_and_sends_differences_to_a_third(
    office: Office,
) -> None:
    receipt, number = office.receipts[1], PEOPLE[0]["my_number"]  # a valid check digit
    vera = office.token("vera")
    view = v.open_document(office.settings, vera, receipt)
    mine = next(f for f in view.fields if f.name == "my_number")
    assert mine.blind and mine.value is None
    with pytest.raises(v.VerificationError):
        v.accept(office.settings, vera, receipt, "my_number")
    v.key(office.settings, vera, receipt, "my_number", number)
    with pytest.raises(v.FourEyesRefused):
        v.key(office.settings, vera, receipt, "my_number", number)
    view = v.open_document(office.settings, office.token("vito"), receipt)
    mine = next(f for f in view.fields if f.name == "my_number")
    assert mine.value is None and all(s.value is None for s in mine.history)
    wrong = number[:-2] + number[-1] + number[-2]
    assert v.key(office.settings, office.token("vito"), receipt, "my_number", wrong) \
        == "disputed"
    assert v.key(office.settings, office.token("vanna"), receipt, "my_number", number) \
        == "confirmed"
    assert [e.result for e in office.audit("field.key")] == [
        "keying", "refused:FourEyesRefused", "disputed", "confirmed"]


def test_equal_blind_entries_with_a_wrong_check_digit_are_not_accepted(office: Office) -> None:
    receipt = office.receipts[0]
    bad = "123456789012"
    v.key(office.settings, office.token("vera"), receipt, "my_number", bad)
    assert v.key(office.settings, office.token("vito"), receipt, "my_number", bad) == "disputed"


def test_a_doubtful_document_leaves_investigation_only_by_a_decision(office: Office) -> None:
    receipt = office.receipts[2]
    vera = office.token("vera")
    with pytest.raises(InvalidInput):
        v.investigate(office.settings, vera, receipt, " ")
    v.investigate(office.settings, vera, receipt, "two different birth dates on the form")
    assert status_of(office, receipt) == "investigation"
    with pytest.raises(v.VerificationError, match="疑義"):
        v.accept(office.settings, vera, receipt, "name_kana")
    assert receipt not in [line.receipt_number for line in v.queue(office.settings, vera)]
    assert v.decide(office.settings, office.token("chika"), receipt, "resume",
                    "the applicant confirmed by phone") == "in_verification"
    view = v.open_document(office.settings, vera, receipt)
    assert [(s.kind, s.by) for s in view.steps] == [("investigate", "vera"), ("decide", "chika")]
    assert [e.actor for e in office.audit("record.decide")] == ["chika"]


def test_the_queue_is_filtered_by_form_and_reason_and_masked(office: Office) -> None:
    clerk = office.token("sakura")
    lines = v.queue(office.settings, clerk, reason="doubt")
    assert len(lines) == 3 and all(line.name_masked.endswith("＊") for line in lines)
    assert v.queue(office.settings, clerk, form_id="kokunen_menjo_shinsei") == []
    assert v.queue(office.settings, clerk, reason="doubt", limit=2) == lines[:2]
    with pytest.raises(NotAllowed):
        v.open_document(office.settings, clerk, office.receipts[0])


def test_group_verification_lists_one_type_across_documents(office: Office) -> None:
    found = v.group(office.settings, office.token("vera"), "date")
    assert [(r, f.name) for r, f in found] == [(r, "birth_date") for r in office.receipts]


def test_never_verified_documents_are_named_for_disposal(office: Office) -> None:
    receipt = office.receipts[0]
    _work_through(office, receipt)
    chika = office.token("chika")
    v.confirm(office.settings, chika, receipt, "name_kana")
    v.confirm(office.settings, chika, receipt, "birth_date")
    with session_scope(office.settings.sqlalchemy_url) as session:
        ids = list(session.scalars(select(Document.id)))
        assert v.never_verified(session, ids) == office.receipts[1:]


def test_verification_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)  # type: ignore[call-arg]
    office = open_office(settings, documents=1)
    receipt = office.receipts[0]
    _work_through(office, receipt)
    v.confirm(settings, office.token("chika"), receipt, "name_kana")
    assert v.confirm(settings, office.token("chika"), receipt, "birth_date") == "verified"
    with session_scope(settings.sqlalchemy_url) as session:
        kinds = session.scalars(select(VerificationEvent.kind)).all()
    assert sorted(set(kinds)) == ["accept", "confirm", "correct", "key", "read", "verified"]


def test_disposal_of_a_never_verified_document_needs_a_stated_why(office: Office) -> None:
    from storage.usecases import records_room as records

    rima = office.token("rima")
    unverified = office.receipts[1]
    with pytest.raises(records.RecordsError, match=f"never verified: {unverified}"):
        records.request_disposal(office.settings, rima, [unverified], "retention ended")
    assert office.audit("disposal.request") == []
    number = records.request_disposal(office.settings, rima, [unverified], "retention ended",
                                      unverified_why="duplicate of a verified filing")
    [why] = office.audit("disposal.unverified")
    assert why.actor == "rima" and why.purpose == "duplicate of a verified filing"
    assert why.detail == {"documents": [unverified]}
    assert [e.detail["number"] for e in office.audit("disposal.request")  # type: ignore[index]
            ] == [number]

    verified = office.receipts[0]
    _work_through(office, verified)
    chika = office.token("chika")
    v.confirm(office.settings, chika, verified, "name_kana")
    v.confirm(office.settings, chika, verified, "birth_date")
    records.request_disposal(office.settings, rima, [verified], "retention ended")
    assert len(office.audit("disposal.unverified")) == 1


def test_a_document_goes_back_to_the_scanning_desk_with_a_reason(office: Office) -> None:
    receipt = office.receipts[1]
    vera = office.token("vera")
    with pytest.raises(InvalidInput):
        v.rescan(office.settings, vera, receipt, "")
    v.rescan(office.settings, vera, receipt, "page cut at the bottom")
    assert status_of(office, receipt) == "rescan"
    with pytest.raises(v.VerificationError):
        v.accept(office.settings, vera, receipt, "name_kana")
    view = v.open_document(office.settings, vera, receipt)
    assert [(s.kind, s.note) for s in view.steps] == [("rescan", "page cut at the bottom")]
    assert [e.actor for e in office.audit("record.rescan")] == ["vera"]


def test_a_deletion_waits_for_a_second_person_and_its_history_is_kept(office: Office) -> None:
    receipt = office.receipts[0]
    both = office.token("both")
    assert v.correct(office.settings, both, receipt, "name_kana", " ",
                     "wrong_on_paper") == "pending"
    view = v.open_document(office.settings, office.token("chika"), receipt)
    kana = next(f for f in view.fields if f.name == "name_kana")
    assert kana.value == PEOPLE[0]["name_kana"] and kana.proposed == ""  # not yet deleted
    with pytest.raises(v.FourEyesRefused, match="you made this change"):
        v.confirm(office.settings, both, receipt, "name_kana")
    v.confirm(office.settings, office.token("chika"), receipt, "name_kana")
    view = v.open_document(office.settings, office.token("chika"), receipt)
    kana = next(f for f in view.fields if f.name == "name_kana")
    assert (kana.status, kana.value) == ("confirmed", "")
    assert [(s.kind, s.value, s.by) for s in kana.history] == [
        ("read", PEOPLE[0]["name_kana"], "machine"), ("correct", "", "both"),
        ("confirm", "", "chika")]
    assert [e.detail for e in office.audit("field.correct")] == [
        {"field": "name_kana", "reason": "wrong_on_paper", "deleted": True}]
