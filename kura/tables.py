"""Tables a clerk can read in an ordinary terminal (80 columns).

Identifiers (受付番号, batch ids) are never cut: their column does not wrap and keeps its
width. When the terminal is too narrow for every column at its least width, the columns
that matter least are left out first; the others fold their text onto more lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from schemas.i18n import N_

JSON_HELP = N_("Print the list as JSON, for scripts.")

WORDS_FROM_CODE = (
    # states of files, documents, fields, keys, disposals and accounts, as tables show them
    N_("processing"), N_("done"), N_("rejected"), N_("failed"), N_("pending"),
    N_("held"), N_("released"), N_("disposal_requested"), N_("disposed"), N_("reread"),
    N_("review"), N_("ready"), N_("verified"), N_("accepted"), N_("in_verification"),
    N_("investigation"), N_("rescan"),
    N_("kek"), N_("index"), N_("current"), N_("previous"), N_("retired"), N_("requested"),
    N_("taken"), N_("quarantined"), N_("refused"), N_("skipped"),
    N_("person"), N_("service"), N_("active"), N_("disabled"), N_("expired"),
    N_("ok"), N_("not_found"), N_("form"), N_("table"),
)
"""Codes a table shows through `_()`: each has its words in the catalogue."""


@dataclass(frozen=True)
class Column:
    header: str
    width: int = 4
    """The least width, in terminal cells (a kanji takes two)."""
    keep: int = 0
    """Which columns stay when space is short: the lowest goes first."""
    identifier: bool = False
    """Never cut nor folded, never left out."""


def fitted(console: Console, title: str, columns: Sequence[Column],
           rows: Sequence[Sequence[Any]]) -> Table:
    """A table of `rows` (strings or rich renderables) that fits `console`: borders and
    padding take three cells a column and one more."""
    shown = list(range(len(columns)))
    least = [max(column.width, cell_len(column.header), *(
        cell_len(str(row[i])) for row in rows if column.identifier)) for i, column in
        enumerate(columns)]

    def needed() -> int:
        return sum(least[i] + 3 for i in shown) + 1

    while needed() > console.width:
        droppable = [i for i in shown if not columns[i].identifier]
        if len(droppable) <= 1:
            break
        shown.remove(min(droppable, key=lambda i: (columns[i].keep, -i)))
    table = Table(title=title)
    for i in shown:
        column = columns[i]
        table.add_column(column.header, min_width=least[i], no_wrap=column.identifier,
                         overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table
