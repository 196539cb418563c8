"""Every word Kura says outside the rooms comes from schemas/locale, and Japanese has each."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from schemas.i18n import LANGUAGES, LOCALE, N_, _, catalogue_path, speaking

ROOT = Path(__file__).parent.parent
PACKAGES = ("schemas", "pipeline", "storage", "workers", "kura")
QUARANTINE = N_("quarantine")


def used_messages() -> set[str]:
    """What `pybabel extract -F schemas/babel.cfg` would find."""
    found: set[str] = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / package, [("**.py", "python")],
                keywords={"_": None, "N_": None, "ngettext": (1, 2)}):
            found.update(m for m in (message if isinstance(message, tuple) else (message,))
                         if isinstance(m, str) and m)
    return found


def catalogue(lang: str) -> dict[str, str]:
    with catalogue_path(LOCALE, "kura", lang).open("rb") as po:
        return {m.id if isinstance(m.id, str) else m.id[0]:
                m.string if isinstance(m.string, str) else m.string[0]
                for m in read_po(po, locale=lang, abort_invalid=True) if m.id}


def test_every_message_in_the_code_is_in_each_catalogue() -> None:
    used = used_messages()
    for lang in LANGUAGES:
        assert sorted(used - set(catalogue(lang))) == [], (
            f"missing from {lang}: see schemas/i18n.py for the two pybabel commands")


def test_every_message_has_japanese_text() -> None:
    assert sorted(m for m, text in catalogue("ja").items() if not text.strip()) == []


def test_japanese_is_the_default_and_english_is_chosen(monkeypatch) -> None:
    monkeypatch.delenv("KURA_LANG", raising=False)
    assert _(QUARANTINE) == "隔離"
    with speaking("en"):
        assert _(QUARANTINE) == "quarantine"
    monkeypatch.setenv("KURA_LANG", "en")
    assert _(QUARANTINE) == "quarantine"
