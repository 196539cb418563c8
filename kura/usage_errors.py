"""A usage error (an argument missing, an option unknown) in the reader's language.

Typer's copy of click words these with English f-strings, not gettext, so nothing can
translate them where they are made. They are read back here by their shape and said again in
our words; a message of another shape is shown as click said it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from schemas.i18n import N_, _

SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Missing argument (?P<name>.+)\.$"), N_("Missing argument {name}.")),
    (re.compile(r"Missing option (?P<name>.+)\.$"), N_("Missing option {name}.")),
    (re.compile(r"No such option: (?P<name>\S+) \(Possible options: (?P<names>.+)\)$"),
     N_("No such option: {name}. Did you mean {names}?")),
    (re.compile(r"No such option: (?P<name>\S+)$"), N_("No such option: {name}")),
    (re.compile(r"Option (?P<name>'.+') requires an argument\.$"),
     N_("Option {name} needs a value.")),
    # not repeated: what was typed where it does not belong may be a 個人番号
    (re.compile(r"Got unexpected extra argument(?:s|\(s\))? \(.+\)$", re.DOTALL),
     N_("Got unexpected extra arguments (not shown: a value is typed when asked for, "
        "never given on the command line)")),
    (re.compile(r"Invalid value for (?P<name>.+?): (?P<message>.+)$", re.DOTALL),
     N_("Invalid value for {name}: {message}")),
    (re.compile(r"(?P<message>.+?)\.? Did you mean (?P<names>.+)\?$", re.DOTALL),
     N_("{message}. Did you mean {names}?")),
)


def in_our_words(message: str) -> str:
    for shape, words in SHAPES:
        found = shape.match(message)
        if found:
            return _(words).format(**found.groupdict())
    return message


def speaking(show: Callable[[Any], None]) -> Callable[[Any], None]:
    """`show` (typer's printer of a usage error) saying the error in our words."""
    if getattr(show, "speaks", False):
        return show

    def show_in_our_words(error: Any) -> None:
        said = in_our_words(error.format_message())
        error.format_message = lambda: said
        show(error)

    show_in_our_words.speaks = True  # type: ignore[attr-defined]
    return show_in_our_words


# pydantic's own words for a setting it cannot take, by the kind of problem; a kind not here
# is said as pydantic says it.
SETTING_PROBLEMS = {
    "bool_parsing": N_("not yes or no (true or false)"),
    "int_parsing": N_("not a whole number"),
    "float_parsing": N_("not a number"),
    "missing": N_("missing"),
}


def settings_problems(error: Any) -> list[tuple[str, str]]:
    """Each setting pydantic refused, as (its variable, what is wrong), in the reader's
    language. The value itself is never repeated: a URL may carry a password."""
    problems = []
    for problem in error.errors():
        variable = "KURA_" + "_".join(str(part) for part in problem["loc"]).upper()
        if problem["type"] == "value_error":
            said = str(problem["ctx"]["error"])  # our own validator's words, translated
        else:
            said = _(SETTING_PROBLEMS[problem["type"]]) if problem["type"] in SETTING_PROBLEMS \
                else problem["msg"]
        problems.append((variable, said))
    return problems
