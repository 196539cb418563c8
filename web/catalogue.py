"""Which messages the rooms use: extracted from the templates and the web code with Babel,
the same way `pybabel extract` would (tests compare them with the catalogues)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

WEB = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def used_messages() -> set[str]:
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
            WEB, METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {
                "extensions": "jinja2.ext.i18n", "trimmed": "false"}}):
        if isinstance(message, str):
            found.add(message)
    return found
