"""The rooms' words: gettext catalogues (web/locale/<lang>/LC_MESSAGES/messages.po), Japanese
by default, English with KURA_LANG=en or the person's own choice (a cookie).

The catalogues are compiled when the app starts (Babel, in memory), so the .po files are the
only source and there is no build step. Message ids are English; `ja` must translate each
one (tests/test_web_i18n.py fails otherwise). New messages: the two pybabel commands at the
top of web/babel.cfg, then write the Japanese."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from schemas import i18n
from schemas.forms import form_name
from schemas.i18n import LANGUAGES, pick
from schemas.reasons import REASONS, reason_code

LOCALE = Path(__file__).parent / "locale"
TEMPLATES = Path(__file__).parent / "templates"


def catalogue_path(lang: str) -> Path:
    return i18n.catalogue_path(LOCALE, "messages", lang)


def translations(lang: str) -> Translations:
    return i18n.compiled(LOCALE, "messages", pick(lang))


@lru_cache(maxsize=len(LANGUAGES))
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["reason_words"] = lambda reason: reason_words(reason, lang)
    env.filters["form_name"] = form_name
    return env


def reason_words(reason: str, lang: str) -> str:
    """A review reason in the person's language: schemas/reasons.py keeps both, as
    "日本語 — English", with the detail (a character, a count) after a colon in the code."""
    ja, _, en = REASONS.get(reason_code(reason), reason).partition(" — ")
    words = en if lang == "en" and en else ja
    detail = reason.split(":", 1)[1].strip() if ":" in reason else ""
    return f"{words}（{detail}）" if detail else words


def gettext(lang: str, message: str) -> str:
    return translations(pick(lang)).gettext(message)


def N_(message: str) -> str:
    """Marks a message for extraction where it is translated later (in a template)."""
    return message


WORDS_FROM_CODE = (
    # duties, as the header names them
    N_("scanning_clerk"), N_("verifier"), N_("checker"), N_("records_manager"),
    N_("security_admin"), N_("backup_operator"), N_("auditor"),
    # states of documents and fields
    N_("review"), N_("ready"), N_("in_verification"), N_("investigation"), N_("rescan"),
    N_("verified"), N_("accepted"), N_("pending"), N_("keying"), N_("disputed"),
    N_("confirmed"),
    # steps of a field's history
    N_("read"), N_("correct"), N_("accept"), N_("key"), N_("confirm"), N_("return"),
    N_("investigate"), N_("decide"), N_("resume"),
    # why a value was corrected
    N_("misread"), N_("wrong_on_paper"), N_("confirmed_by_phone"), N_("other"),
    # what the records room searches by, why an original is opened, disposal states
    N_("receipt_number"), N_("basic_pension_number"), N_("my_number"), N_("name_kana"),
    N_("birth_date"), N_("disclosure_request"), N_("inquiry"), N_("correction"), N_("audit"),
    N_("legal"), N_("requested"), N_("rejected"), N_("done"), N_("records"), N_("access"),
    # field types (group verification)
    N_("text"), N_("kana"), N_("date"), N_("bpn"), N_("postal"), N_("phone"), N_("choice"),
    # states of 進達 batches and of 突合
    N_("prepared"), N_("released"), N_("not_reconciled"), N_("reconciled"),
)
"""Codes the rooms show in words: listed here so extraction finds them."""

ERROR_WORDS = (
    N_("not_allowed"), N_("not_found"), N_("conflict"), N_("invalid_input"), N_("refused"),
    N_("not_signed_in"), N_("verification"), N_("four_eyes"), N_("csrf"), N_("damaged"),
    N_("unavailable"), N_("error"), N_("list_not_usable"),
)
"""Error codes, said in words on the error page (the use case's own message is English)."""

QUARANTINE_WORDS = (
    N_("rejected"), N_("unsupported_format"), N_("encrypted_pdf"), N_("damaged_file"),
    N_("image_too_large"), N_("image_too_small"), N_("too_many_pages"), N_("empty_file"),
    N_("duplicate"),
)
"""Why the intake desk put a file in quarantine (pipeline/errors.py codes)."""
