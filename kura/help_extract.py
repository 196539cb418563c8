"""`pybabel extract` of the command line's help (schemas/babel.cfg): apart from kura/help.py,
which kura/cli.py imports, because this one needs the whole command tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kura.help import help_messages


def extract_help(fileobj: Any, keywords: Any, comment_tags: Any,
                 options: Any) -> Iterator[tuple[Any, ...]]:
    """A Babel extractor (schemas/babel.cfg, `[kura_help: kura/cli.py]`): what the Python
    extractor finds in kura/cli.py, then every help text of the command tree."""
    import typer.main
    from babel.messages.extract import extract_python

    from kura.cli import app

    yield from extract_python(fileobj, keywords, comment_tags, options)
    for message in sorted(help_messages(typer.main.get_command(app))):
        yield 0, "_", message, []

