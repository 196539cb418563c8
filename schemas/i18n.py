"""Words a person reads, in their language: gettext catalogues compiled in memory by Babel.

Everything outside the web rooms (the command line, errors and their hints, batch reports,
PDFs and CSV headers) speaks from one catalogue, schemas/locale/<lang>/LC_MESSAGES/kura.po;
the rooms keep theirs in web/locale. Message ids are the English words; Japanese is the
default and must translate every id (tests/test_i18n.py fails otherwise); English is chosen
with KURA_LANG=en, or per request with `speaking(lang)`, and needs no entry of its own.

Log lines for operators stay English and carry codes: never pass them through `_`.

New messages: mark them with `_("…")` (or `N_` where the text is translated later), then
    pybabel extract -F schemas/babel.cfg -k N_ -o /tmp/kura.pot .
    pybabel update -D kura -i /tmp/kura.pot -d schemas/locale -l ja
and write the Japanese in schemas/locale/ja/LC_MESSAGES/kura.po."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE = Path(__file__).parent / "locale"
LANGUAGES = ("ja", "en")
DEFAULT = "ja"

_chosen: ContextVar[str | None] = ContextVar("kura_language", default=None)


def pick(wanted: str | None) -> str:
    return wanted if wanted in LANGUAGES else DEFAULT


def language() -> str:
    """The language of the person being spoken to: the one chosen for this request or
    command, else KURA_LANG, else Japanese."""
    return pick(_chosen.get() or os.environ.get("KURA_LANG"))


@contextmanager
def speaking(lang: str | None) -> Iterator[None]:
    token = _chosen.set(pick(lang))
    try:
        yield
    finally:
        _chosen.reset(token)


def choose(lang: str | None) -> None:
    """Speak `lang` for the rest of the current context: a request's handler that learns
    whose it is (the person's own setting) after the request began in another language."""
    _chosen.set(pick(lang))


def catalogue_path(folder: Path, domain: str, lang: str) -> Path:
    return folder / lang / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=8)
def compiled(folder: Path, domain: str, lang: str) -> Translations:
    """A catalogue compiled from its .po file when first used: the .po files are the only
    source, so there is no build step and no .mo file to forget."""
    with catalogue_path(folder, domain, lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=domain)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo, domain=domain)


def translations(lang: str | None = None) -> Translations:
    return compiled(LOCALE, "kura", pick(lang or language()))


def _(message: str) -> str:
    return translations().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations().ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Marks a message for extraction where it is translated later (a table of codes)."""
    return message
