"""Every word Kura says outside the rooms comes from schemas/locale, and Japanese has each."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import typer.main
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

from kura.cli import app
from kura.help import help_messages
from schemas.i18n import LANGUAGES, LOCALE, N_, _, catalogue_path, speaking

ROOT = Path(__file__).parent.parent
PACKAGES = ("schemas", "pipeline", "storage", "workers", "kura")
SPEAKS_FROM_KURA_PO = ("web/api.py",)
"""The rooms' files that say things through schemas.i18n (the server's answers to
`kura` over KURA_SERVER_URL), not through web/locale."""
VERIFIER = N_("verifier")
CHOOSES_LANGUAGE = True  # tests/conftest.py: Japanese by default here, as outside the tests


def used_messages() -> set[str]:
    """What `pybabel extract -F schemas/babel.cfg` would find."""
    found: set[str] = set()
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / package, [("**.py", "python")], keywords=keywords):
            found.update(_ids(message))
    for path in SPEAKS_FROM_KURA_PO:
        with (ROOT / path).open("rb") as source:
            for _line, message, _comments, _context in extract(
                    "python", source, keywords=keywords):
                found.update(_ids(message))
    # the command line's help: docstrings and help= texts, as kura/help.py translates them
    return found | help_messages(typer.main.get_command(app))


def _ids(message: str | tuple[str, ...]) -> set[str]:
    return {m for m in (message if isinstance(message, tuple) else (message,))
            if isinstance(m, str) and m}


def catalogue(lang: str) -> dict[str, str]:
    with catalogue_path(LOCALE, "kura", lang).open("rb") as po:
        return {key: m.string if isinstance(m.string, str) else m.string[0]
                for m in read_po(po, locale=lang, abort_invalid=True) if m.id
                for key in ((m.id,) if isinstance(m.id, str) else m.id)}  # a plural: both


def test_every_message_in_the_code_is_in_the_japanese_catalogue() -> None:
    assert sorted(used_messages() - set(catalogue("ja"))) == [], (
        "missing from ja: see schemas/i18n.py for the two pybabel commands")


def test_the_japanese_catalogue_holds_only_messages_the_code_says() -> None:
    """An id no code uses any more (a message reworded or removed) is dead weight that hides
    the live entries and invites a merge to revive the old words."""
    assert sorted(set(catalogue("ja")) - used_messages()) == [], (
        "remove these entries from schemas/locale/ja/LC_MESSAGES/kura.po")


def test_the_english_catalogue_holds_only_words_that_differ_from_their_ids() -> None:
    """English is the message ids themselves: an empty English entry only invites a merge
    to break the file."""
    assert sorted(m for m, text in catalogue("en").items() if not text.strip()) == []


def test_every_message_has_japanese_text() -> None:
    assert sorted(m for m, text in catalogue("ja").items() if not text.strip()) == []


def test_japanese_is_the_default_and_english_is_chosen(monkeypatch) -> None:
    monkeypatch.delenv("KURA_LANG", raising=False)
    assert _(VERIFIER) == "照合担当者"
    with speaking("en"):
        assert _(VERIFIER) == "verifier"
    monkeypatch.setenv("KURA_LANG", "en")
    assert _(VERIFIER) == "verifier"


# --- words of the command line (kura/*.py) -------------------------------------------------

SINKS = {"print", "BadParameter", "Table", "Column", "prompt", "fitted", "add_column", "Text"}
"""Calls whose string arguments a person reads."""
MARKS = {"_", "N_", "ngettext"}
WORDS = re.compile(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}")
MARKUP = re.compile(r"\[/?[a-z ]*\]")


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _unmarked(node: ast.AST) -> Iterator[ast.AST]:
    """String literals with words under `node` that no `_`/`N_`/`ngettext` wraps."""
    if (isinstance(node, ast.Call) and _name(node.func) in MARKS) or isinstance(node, ast.Compare):
        return
    if isinstance(node, ast.Call):  # "…".format(…) goes on; a helper given a code is its own
        yield from _unmarked(node.func)
        if _name(node.func) == "format":
            for value in [*node.args, *(k.value for k in node.keywords)]:
                yield from _unmarked(value)
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if WORDS.search(MARKUP.sub("", node.value)):
            yield node
        return
    if isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                yield from _unmarked(part.value)
            else:
                yield from _unmarked(part)
        return
    if isinstance(node, ast.Attribute | ast.Subscript):  # not a key nor an attribute name
        yield from _unmarked(node.value)
        return
    if isinstance(node, ast.Dict):  # JSON for scripts: its keys are no one's words
        for value in node.values:
            yield from _unmarked(value)
        return
    for child in ast.iter_child_nodes(node):
        yield from _unmarked(child)


def unmarked_words(source: str) -> list[tuple[int, str]]:
    """Where a person would read words that skip the catalogue: arguments of what prints
    (console.print, tables, columns, prompts, typer.BadParameter), messages of raised
    errors, and help= texts."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        reads: list[ast.AST] = []
        if isinstance(node, ast.Call) and _name(node.func) in SINKS:
            reads = [*node.args, *(k.value for k in node.keywords
                                   if k.arg in (None, "title", "header", "hint"))]
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            reads = [*node.exc.args, *(k.value for k in node.exc.keywords if k.arg == "hint")]
        if isinstance(node, ast.keyword) and node.arg == "help":
            reads = [node.value]
        for literal in (hit for read in reads for hit in _unmarked(read)):
            found.add((literal.lineno, ast.unparse(literal)[:60]))
    return sorted(found)


def test_the_command_line_marks_every_word_it_says() -> None:
    unmarked = {f"{path.relative_to(ROOT)}:{line}": text
                for path in sorted((ROOT / "kura").glob("*.py"))
                for line, text in unmarked_words(path.read_text(encoding="utf-8"))}
    assert unmarked == {}, "wrap them in _() (or N_() for help=) and add them to kura.po"


def test_the_check_for_unmarked_words_finds_them() -> None:
    found = unmarked_words(
        'console.print(f"wrote {out}")\n'
        'console.print(_("wrote {path}").format(path=out))\n'
        'raise typer.BadParameter("--format is csv or json")\n'
        'x = typer.Option(help="Why the hold ends.")\n'
        'x = typer.Option(help=N_("Why the hold ends."))\n'
        'table.add_row(line.id, f"{line.size:8}")\n')
    assert [line for line, _text in found] == [1, 3, 4]


def test_each_translation_fills_the_same_placeholders() -> None:
    """`_("…{name}…").format(name=…)`: a translation that names another placeholder would
    fail at run time in that language only."""
    names = re.compile(r"(?<!\{)\{(\w*)[^{}]*\}(?!\})")
    for lang in LANGUAGES:
        wrong = {m: text for m, text in catalogue(lang).items()
                 if text and set(names.findall(text)) != set(names.findall(m))}
        assert wrong == {}, lang
