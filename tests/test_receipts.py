"""受付番号 per municipality and fiscal year (issue 13): two offices sharing one installation
take documents in at the same moment and each counts its own R…-000001; every lookup by
number finds exactly one document (the office's own, or the one the qualified form
011002:R… names) and says which municipalities hold it when it cannot tell. On SQLite and on
PostgreSQL, and through the migration that brings an existing database there."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select

from schemas.settings import Settings
from storage.accounts import add_person
from storage.audit import Actor
from storage.db import alembic_config, session_scope, upgrade
from storage.intake import Arrival, take_in
from storage.models import Document
from storage.receipts import AmbiguousReceipt, document_by_receipt
from storage.runtime import vault_for
from storage.usecases import audit as audit_usecases
from storage.usecases import records
from storage.usecases import register as reg
from storage.usecases.verification import open_document
from tests.helpers import PASSWORD
from tests.register_data import open_register, token

SAPPORO, SENDAI, TOSHIMA = "011002", "041009", "131164"
EACH = 6

INTAKE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from schemas.settings import Settings
    from storage.db import session_scope
    from storage.runtime import vault_for
    from storage.intake import Arrival, take_in
    data_dir, url, municipality, count = sys.argv[1:5]
    settings = Settings(data_dir=Path(data_dir), database_url=url,
                        municipality_code=municipality)
    vault = vault_for(settings)
    for n in range(int(count)):
        with session_scope(settings.sqlalchemy_url) as session:
            take_in(session, vault, [Arrival(f"scan{n}.png", f"{municipality}-{n}".encode())],
                    "cli", (), municipality=municipality)
""")


def _settings(data_dir: Path, url: str, municipality: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=url,  # type: ignore[call-arg]
                    municipality_code=municipality)


def _url(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return (request.getfixturevalue("postgres_url") if database == "postgresql"
            else f"sqlite:///{tmp_path / 'data' / 'kura.db'}")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_municipalities_take_in_at_once_and_each_counts_its_own(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(database, tmp_path, request)
    data_dir = tmp_path / "data"
    sapporo = _settings(data_dir, url, SAPPORO)
    open_register(sapporo)
    vault_for(sapporo)  # the installation's keys exist before the two intakes start
    runs = [subprocess.Popen([sys.executable, "-c", INTAKE, str(data_dir), url, code,
                              str(EACH)], stderr=subprocess.PIPE, text=True)
            for code in (SAPPORO, SENDAI)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert all(run.returncode == 0 for run in runs), errors
    prefix = f"R{dt.date.today():%Y%m%d}-"
    expected = [f"{prefix}{n:06d}" for n in range(1, EACH + 1)]
    with session_scope(url) as session:
        for code in (SAPPORO, SENDAI):
            assert sorted(session.scalars(select(Document.receipt_number).where(
                Document.municipality == code))) == expected
    _lookups_say_which_municipality(data_dir, url, f"{prefix}000001")


def _lookups_say_which_municipality(data_dir: Path, url: str, number: str) -> None:
    sapporo, sendai = _settings(data_dir, url, SAPPORO), _settings(data_dir, url, SENDAI)
    toshima = _settings(data_dir, url, TOSHIMA)
    with session_scope(url) as session:
        mine = document_by_receipt(session, number, SAPPORO)
        theirs = document_by_receipt(session, f"{SENDAI}:{number}", SAPPORO)
        assert mine is not None and mine.municipality == SAPPORO
        assert theirs is not None and theirs.municipality == SENDAI
        with pytest.raises(AmbiguousReceipt) as neither:
            document_by_receipt(session, number, TOSHIMA)
        assert SAPPORO in neither.value.message and SENDAI in neither.value.message
        assert f"{SAPPORO}:{number}" in neither.value.hint
        assert document_by_receipt(session, f"{TOSHIMA}:{number}", TOSHIMA) is None

    clerk = token(sapporo, "sakura")
    reg.describe(sapporo, clerk, number, "mail")  # Sapporo's own
    reg.describe(sendai, clerk, number, "counter", "仙台市 青葉区")  # Sendai's own
    with pytest.raises(AmbiguousReceipt):
        reg.describe(toshima, clerk, number, "mail")
    routes = {(line.receipt_number, line.route) for line in reg.open_items(sapporo, clerk)}
    assert len(routes) == EACH and (number, "mail") in routes  # its own register only
    (line,) = [line for line in reg.open_items(sendai, clerk) if line.receipt_number == number]
    assert (line.route, line.office) == ("counter", "仙台市 青葉区")

    verifier = token(sapporo, "vera")
    assert open_document(sendai, verifier, number).receipt_number == number
    with pytest.raises(AmbiguousReceipt):
        open_document(toshima, verifier, number)
    records_manager = token(sapporo, "rima")
    with pytest.raises(AmbiguousReceipt):
        records.open_original(toshima, records_manager, number, "case 2026-17")
    opened = records.open_original(toshima, records_manager, f"{SENDAI}:{number}",
                                   "case 2026-17")
    assert opened.data == f"{SENDAI}-0".encode()
    with session_scope(url) as session:
        add_person(session, Actor("test-setup", "-"), "aki", ["auditor"], PASSWORD)
    with pytest.raises(AmbiguousReceipt):
        audit_usecases.search_log(toshima, token(sapporo, "aki"), record=number)
    assert audit_usecases.search_log(toshima, token(sapporo, "aki"),
                                     record=f"{SAPPORO}:{number}")


def test_the_migration_marks_existing_documents_as_the_installations_own(
    tmp_path: Path
) -> None:
    """A database numbered before 0011 (one UNIQUE on the number) is upgraded under the
    installation's settings: its documents become that municipality's, and from then on
    another municipality may count the same numbers."""
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'kura.db'}"
    sapporo = _settings(data_dir, url, SAPPORO)
    upgrade(url, sapporo)
    vault = vault_for(sapporo)
    with session_scope(url) as session:
        take_in(session, vault, [Arrival("old.png", b"numbered before 0011")], "cli", (),
                municipality=SAPPORO)
    config = alembic_config(url)
    config.attributes["settings"] = sapporo
    command.downgrade(config, "0010")
    upgrade(url, _settings(data_dir, url, SENDAI))  # this installation is Sendai's
    with session_scope(url) as session:
        (old,) = session.scalars(select(Document)).all()
        assert old.municipality == SENDAI
        take_in(session, vault, [Arrival("new.png", b"Toshima's first")], "cli", (),
                municipality=TOSHIMA)
    with session_scope(url) as session:
        assert session.scalar(select(func.count(func.distinct(Document.receipt_number)))) == 1
        assert session.scalar(select(func.count()).select_from(Document)) == 2


def test_each_fiscal_year_counts_from_one_and_the_old_year_goes_on_where_it_stopped(
    tmp_path: Path
) -> None:
    """年度 runs from 1 April to 31 March: the first document of April is R…-000001 again,
    and one still dated in March (a late scan of the old year's paper) takes the old year's
    next number; another municipality counts apart in both years."""
    from storage.intake import next_receipt_number

    url = f"sqlite:///{tmp_path / 'kura.db'}"
    upgrade(url)
    march, april = dt.date(2027, 3, 31), dt.date(2027, 4, 1)
    with session_scope(url) as session:
        numbers = [next_receipt_number(session, day, code) for day, code in (
            (march, SAPPORO), (march, SAPPORO), (april, SAPPORO), (march, SAPPORO),
            (april, SAPPORO), (april, SENDAI), (march, SENDAI))]
    assert numbers == ["R20270331-000001", "R20270331-000002", "R20270401-000001",
                       "R20270331-000003", "R20270401-000002", "R20270401-000001",
                       "R20270331-000001"]
