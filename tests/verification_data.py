"""An installation with documents waiting for verification and the people who work them,
for the verification and web tests (no OCR: fields are filed as read, some flagged)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from schemas.forms import get_form
from schemas.settings import Settings
from storage.accounts import add_person, sign_in
from storage.audit import Actor, AuditEntry
from storage.audit_words import open_entry
from storage.db import get_engine, session_scope, upgrade
from storage.models import Batch, Document
from storage.runtime import vault_for
from tests.custody_data import PEOPLE, file_documents
from tests.helpers import PASSWORD

FLAGS: dict[str, list[str]] = {
    "name_kana": ["doubt:ダ/タ"],
    "birth_date": ["date_invalid"],
    "my_number": ["check_digit"],
}
"""The fields of every document that wait for a person, with the pipeline's reasons."""

STAFF: dict[str, tuple[str, ...]] = {
    "vera": ("verifier",),
    "vito": ("verifier",),
    "vanna": ("verifier",),
    "chika": ("checker",),
    "both": ("verifier", "checker"),
    "rima": ("records_manager",),
    "sakura": ("scanning_clerk",),
    "sam": ("security_admin",),
    "audra": ("auditor",),
}


@dataclass
class Office:
    settings: Settings
    receipts: list[str]
    batch_id: str

    def token(self, username: str) -> str:
        with session_scope(self.settings.sqlalchemy_url) as session:
            return sign_in(session, username, PASSWORD, 60).token

    def audit(self, action: str) -> list[AuditEntry]:
        """The entries of `action`, their sealed words opened as an auditor reads them."""
        vault = vault_for(self.settings)
        with session_scope(self.settings.sqlalchemy_url) as session:
            entries = list(session.scalars(
                select(AuditEntry).where(AuditEntry.action == action)
                .order_by(AuditEntry.seq)))
            opened = [open_entry(session, vault, {"purpose": e.purpose, "detail": e.detail})
                      for e in entries]
            session.expunge_all()  # read only: the chain refuses any change
        for entry, words in zip(entries, opened, strict=True):
            entry.purpose, entry.detail = words["purpose"], words["detail"]
        return entries


def open_office(settings: Settings, documents: int = 3) -> Office:
    """Migrated database, the staff above, and `documents` filed documents in review. On the
    embedded default (SQLite and files) the office is built once per test run and copied:
    hashing the staff's passwords is most of the time it takes."""
    if settings.database_url:
        return _build(settings, documents)
    if documents not in _TEMPLATES:
        built = Path(_TEMPLATE_ROOT.name) / str(documents)
        office = _build(Settings(data_dir=built), documents)  # type: ignore[call-arg]
        get_engine(office.settings.sqlalchemy_url).dispose()  # the WAL folded in, closed
        _TEMPLATES[documents] = office
    template = _TEMPLATES[documents]
    shutil.copytree(template.settings.data_dir, settings.data_dir)
    shutil.copytree(template.settings.keys_dir, settings.keys_dir)
    return Office(settings, list(template.receipts), template.batch_id)


_TEMPLATE_ROOT = tempfile.TemporaryDirectory(prefix="kura-office-")
_TEMPLATES: dict[int, Office] = {}


def _build(settings: Settings, documents: int) -> Office:
    upgrade(settings.sqlalchemy_url)
    vault = vault_for(settings)
    receipts = []
    with session_scope(settings.sqlalchemy_url) as session:
        for username, roles in STAFF.items():
            add_person(session, Actor("test-setup", "-"), username, list(roles), PASSWORD)
        people = (PEOPLE * (documents // len(PEOPLE) + 1))[:documents]
        for document, _ in file_documents(session, settings, vault, people):
            form = get_form(document.form_id or "")
            for field in document.fields:
                field.box, field.page_number = list(form.field(field.name).box), 1
                if field.name in FLAGS:
                    field.status, field.reasons = "review", FLAGS[field.name]
            document.status = "review"
            receipts.append(document.receipt_number)
        batch_id = session.scalars(select(Batch.id)).first() or ""
    return Office(settings, receipts, batch_id)


def fresh_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]


def status_of(office: Office, receipt: str) -> str:
    with session_scope(office.settings.sqlalchemy_url) as session:
        return session.scalars(
            select(Document.status).where(Document.receipt_number == receipt)).one()


FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"


def draw_pages(office: Office, scale: float = 0.25) -> None:
    """Give each document a page image a person can look at: the form's boxes with the
    values written in them (the filed test pages are not images)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    vault = vault_for(office.settings)
    with session_scope(office.settings.sqlalchemy_url) as session:
        for receipt in office.receipts:
            document = session.scalars(
                select(Document).where(Document.receipt_number == receipt)).one()
            form = get_form(document.form_id or "")
            width, height = (int(n * scale) for n in form.size_px)
            image = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(image)
            font = ImageFont.truetype(FONT, int(90 * scale))
            draw.text((int(200 * scale), int(200 * scale)), form.title, fill="black", font=font)
            for field in document.fields:
                if not field.box:
                    continue
                x, y, w, h = (int(n * scale) for n in field.box)
                draw.rectangle((x, y, x + w, y + h), outline="black")
                value = vault.open_value(document, f"field:{field.name}:value",
                                         field.value_sealed)
                draw.text((x + 6, y + h // 4), value, fill="#123", font=font)
            data = io.BytesIO()
            image.save(data, "JPEG", quality=80)
            for page in document.pages:
                page.image_object_id = vault.put_object(session, "page_image",
                                                        data.getvalue()).id
