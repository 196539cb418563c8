"""Every word of the rooms comes from the catalogues, and Japanese has every one of them."""

from __future__ import annotations

from babel.messages.pofile import read_po

from web.catalogue import used_messages
from web.i18n import LANGUAGES, catalogue_path


def _catalogue(lang: str) -> dict[str, str]:
    with catalogue_path(lang).open("rb") as po:
        return {m.id: m.string for m in read_po(po, locale=lang, abort_invalid=True) if m.id and
                isinstance(m.id, str) and isinstance(m.string, str)}


def test_every_message_the_rooms_use_is_in_each_catalogue() -> None:
    used = used_messages()
    assert len(used) > 50
    for lang in LANGUAGES:
        assert sorted(used - set(_catalogue(lang))) == [], f"missing from {lang}: run pybabel"


def test_every_message_has_japanese_text() -> None:
    untranslated = sorted(m for m, text in _catalogue("ja").items() if not text.strip())
    assert untranslated == []


def test_templates_have_no_words_outside_the_catalogue() -> None:
    """A word typed straight into a template (outside {% trans %} or _()) would not be
    translated: the only text between tags is template code, numbers or punctuation."""
    import re

    from web.i18n import TEMPLATES

    letters = re.compile(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}")
    for template in TEMPLATES.rglob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", template.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"<[^>]*>", "", text)
        assert letters.findall(text) == [], template.name
