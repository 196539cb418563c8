"""Offices that share one installation each verify their own documents (issue 13): a person
bound to a municipality (`kura users municipality`, migration 0014) sees only its documents
in the verification queue and in group verification, and is refused — the refusal in the
audit chain — opening, correcting or confirming another municipality's, however the
受付番号 is typed; so with the register. A person bound to none works on the
installation's own, as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kura.bench.servers import kura_env, run_kura
from schemas.errors import ExitCode, InvalidInput
from storage.accounts import Person
from storage.audit import AuditEntry, AuditObject
from storage.db import session_scope
from storage.models import Document
from storage.receipts import OtherMunicipality
from storage.usecases import people, records
from storage.usecases import register as reg
from storage.usecases import verification as v
from tests.helpers import PASSWORD, login
from tests.verification_data import Office, fresh_settings, open_office

SAPPORO = "011002"
"""The other office's 全国地方公共団体コード; the installation's is the default, 000000."""


def _kura(office: Office, who: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = kura_env(data_dir=str(office.settings.data_dir), lang="en",
                   session_file=str(office.settings.data_dir.parent / f"{who}.session"))
    done = run_kura(env, *args, timeout=120, stdin=stdin)
    return done.returncode, done.stdout + done.stderr


def _taken_in_by(office: Office, receipt: str, municipality: str) -> str:
    """The document as the other office took it in (under its own code); its id."""
    with session_scope(office.settings.sqlalchemy_url) as session:
        document = session.scalars(select(Document).where(
            Document.receipt_number == receipt)).one()
        document.municipality = municipality
        return document.id


def _refusals(office: Office, action: str) -> list[tuple[str, str, list[str]]]:
    """(actor, result, object ids) of every `action` entry."""
    with session_scope(office.settings.sqlalchemy_url) as session:
        return [(e.actor, e.result, list(session.scalars(
                    select(AuditObject.object_id).where(AuditObject.seq == e.seq))))
                for e in session.scalars(select(AuditEntry).where(
                    AuditEntry.action == action).order_by(AuditEntry.seq))]


def test_a_verifier_sees_and_acts_on_the_documents_of_their_own_municipality_only(
    tmp_path: Path
) -> None:
    office = open_office(fresh_settings(tmp_path), documents=3)
    settings = office.settings
    ours, also_ours, theirs = office.receipts
    theirs_id = _taken_in_by(office, theirs, SAPPORO)
    ours_id = _taken_in_by(office, ours, settings.municipality_code)

    # the security administrator binds vito to Sapporo, at the command line
    env = kura_env(data_dir=str(settings.data_dir), lang="en",
                   session_file=str(settings.data_dir.parent / "sam.session"))
    login(env, "sam")
    code, said = _kura(office, "sam", "users", "municipality", "vito", "01100")
    assert code == ExitCode.bad_input and "6 digits" in said, said
    code, said = _kura(office, "sam", "users", "municipality", "vito", SAPPORO)
    assert code == 0 and SAPPORO in said, said
    code, said = _kura(office, "sam", "users", "list", "--json")
    assert '"municipality": "011002"' in said and '"municipality": null' in said
    assert [(e.actor, e.detail) for e in office.audit("user.municipality")] == [
        ("sam", {"username": "vito", "before": None, "after": SAPPORO})]

    vera, vito = office.token("vera"), office.token("vito")
    assert [line.receipt_number for line in v.queue(settings, vera)] == [ours, also_ours]
    assert [line.receipt_number for line in v.queue(settings, vito)] == [theirs]
    assert [line.receipt_number for line in records.verification_queue(settings, vito)] == [
        theirs]
    assert {receipt for receipt, _field in v.group(settings, vito, "date")} == {theirs}
    assert {receipt for receipt, _field in v.group(settings, vera, "date")} == {
        ours, also_ours}

    # another municipality's document is refused however it is named, and audited
    with pytest.raises(v.OtherMunicipality, match=SAPPORO):
        v.open_document(settings, vito, ours)
    with pytest.raises(v.OtherMunicipality):
        v.accept(settings, vito, f"{settings.municipality_code}:{ours}", "name_kana")
    with pytest.raises(v.OtherMunicipality):
        v.page_image(settings, vito, ours, 1)
    with pytest.raises(v.OtherMunicipality):
        v.open_document(settings, vera, theirs)
    assert _refusals(office, "field.accept") == [
        ("vito", "refused:OtherMunicipality", [ours_id])]
    assert _refusals(office, "record.read") == [
        ("vito", "refused:OtherMunicipality", [ours_id]),
        ("vito", "refused:OtherMunicipality", [ours_id]),
        ("vera", "refused:OtherMunicipality", [theirs_id])]

    # each works on their own; the checker of the installation may not confirm Sapporo's
    assert v.accept(settings, vito, theirs, "name_kana") == "pending"
    with pytest.raises(v.OtherMunicipality):
        v.confirm(settings, office.token("chika"), theirs, "name_kana")
    assert _refusals(office, "field.confirm")[-1][:2] == ("chika", "refused:OtherMunicipality")
    assert v.accept(settings, vera, ours, "name_kana") == "pending"

    # at the command line: vito's next document is Sapporo's; the installation's is refused
    code, said = _kura(office, "vito", "login", "vito", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 0, said
    code, said = _kura(office, "vito", "verify", "next")
    assert code == 0 and theirs in said and ours not in said, said
    code, said = _kura(office, "vito", "verify", "correct", also_ours, "birth_date",
                       "--value-stdin", stdin="1965-01-03\n")
    assert code == ExitCode.refused and SAPPORO in said, said
    assert _refusals(office, "field.correct")[-1][:2] == ("vito", "refused:OtherMunicipality")

    # the register too: a clerk bound to Sapporo keeps Sapporo's 受付処理簿 only
    people.set_municipality(settings, office.token("sam"), "sakura", SAPPORO)
    sakura = office.token("sakura")
    assert [line.receipt_number for line in reg.open_items(settings, sakura)] == [theirs]
    reg.describe(settings, sakura, theirs, "mail")
    with pytest.raises(OtherMunicipality):
        reg.describe(settings, sakura, ours, "mail")
    assert _refusals(office, "register.describe")[-1] == (
        "sakura", "refused:OtherMunicipality", [ours_id])

    # bound to the installation again, vito sees its documents
    with pytest.raises(InvalidInput):
        people.set_municipality(settings, office.token("sam"), "vito", "sapporo")
    account = people.set_municipality(settings, office.token("sam"), "vito", None)
    assert account.municipality is None
    assert {line.receipt_number for line in v.queue(settings, vito)} == {ours, also_ours}
    with session_scope(settings.sqlalchemy_url) as session:
        assert session.scalars(select(Person.municipality).where(
            Person.username == "vito")).one() is None
