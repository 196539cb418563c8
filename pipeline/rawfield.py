"""What reading one field gives, before it is decided: the text, how sure the reader is,
and why a person should look. Its own module because every field reader returns one."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np

Span = tuple[str, int, int, int]
"""A character read in a line, the columns (left, right) that are its own and the column
at the middle of the recogniser's frames for it."""


@dataclass(frozen=True)
class RawField:
    text: str
    confidence: float
    engine: str
    notes: tuple[str, ...] = ()
    runners_up: tuple[tuple[str, str, float], ...] = ()
    cell_digits: np.ndarray | None = dataclass_field(default=None, compare=False)
    """Digit cells: the recogniser's opinion of each written cell's digit (cells × 10),
    from the frames under that cell (`pipeline.digitcells`); None where it gives none."""
    char_confidences: tuple[float, ...] = ()
    """Free writing: each character's probability, in the order of `text`; empty where the
    reader gives none."""
    lines_read: tuple[tuple[np.ndarray, tuple[Span, ...]], ...] = dataclass_field(
        default=(), compare=False)
    """Names and addresses: each written line and the characters the recogniser read in it,
    with the columns that are their own (`textlines.characters_of`), so that the checks of
    one character (a variant form, an address's digits) need not read the line again; empty
    where the engine does not locate its characters."""
    nearly_written: tuple[str, ...] = ()
    """Names: characters the recogniser almost wrote where it wrote none
    (`textlines.nearly_written`), so that a dropped look-alike is not taken for no character."""
    variants_seen: tuple[str, ...] = ()
    """Variant kanji of a name whose written form the variant networks were sure of
    (`pipeline.variants`): no person need look at which form it is."""
    written_cells: tuple[np.ndarray, ...] = dataclass_field(default=(), compare=False)
    """Digit cells: each written cell's writing as the reader cut it
    (`digitcells.cell_crops`), so that the digit model weighs the same cells without
    cutting them again."""
