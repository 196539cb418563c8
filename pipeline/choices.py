"""Read the fields a person marks: which option of a choice, whether a checkbox is ticked;
a mark struck through, or one that could be either, goes to a person."""

from __future__ import annotations

import numpy as np

from pipeline import marks as mark_reader
from pipeline.crops import box_crop, ink_share
from pipeline.handwriting import widened_print
from pipeline.rawfield import RawField
from schemas.forms import FieldDef

CHOICE_MARK_INK = 0.025


def read_choice(gray: np.ndarray, field: FieldDef, form_id: str) -> RawField:
    """The option a person marked: the label a circle encloses, or the option a tick is
    drawn on or beside (`pipeline.marks`). None marked, two marked, or a mark that could be
    either is for a person; so is a correction (a mark struck through), with the mark left
    standing proposed."""
    assert field.options is not None
    options = [option.box for option in field.options]
    labels = mark_reader.label_boxes(form_id, field.page, field)
    found = mark_reader.find_marks(gray, options, labels)
    marked = {m.option for m in found}
    printed = widened_print(form_id, field.page, 1)
    struck = mark_reader.struck_options(gray, printed, labels)
    if len(marked - struck) > 1:  # a mark taken back on a one-character label (男, 女)?
        struck = mark_reader.struck_options(gray, printed, labels, marked - struck)
    chosen = sorted(marked - struck)
    if struck and not chosen:  # the mark left standing may have run into the struck one
        chosen = sorted({m.also for m in found if m.also is not None} - struck)
    if struck:
        several = ("several_choices",) if len(chosen) > 1 else ()
        standing = ",".join(field.options[k].value for k in chosen)
        return RawField(standing, 0.0, "omr", ("struck_through", *several))
    if not chosen:
        return RawField("", 0.0, "omr", ("no_choice",))
    if len(chosen) > 1:
        both = ",".join(field.options[k].value for k in chosen)
        return RawField(both, 0.0, "omr", ("several_choices",))
    value = field.options[chosen[0]].value
    if not all(m.certain for m in found):
        return RawField(value, 0.5, "omr", ("unsure_mark",))
    return RawField(value, 1.0, "omr")


CHECKBOX_CLEAR_INK = 0.005
"""Below this share of ink a checkbox is clear; between it and `CHOICE_MARK_INK` the mark is
too faint or too small to call (a stray dot, a tick that barely touches the box)."""
FILLED_BOX_INK = 0.5
"""From this share of ink a checkbox is filled in (塗りつぶし). On Japanese forms that is
usually a tick blotted out, not a tick; some people fill the box to mark it. A person
decides, shown it clear."""


def read_checkbox(gray: np.ndarray, field: FieldDef, form_id: str) -> RawField:
    """Ticked or clear (a tick, a cross, a dot in the box); what could be either goes to a
    person with its reason, whatever the accept threshold is: a mark too faint to call, a
    box filled in or a mark struck through (both proposed clear: taken back), a mark drawn
    beside the box instead of in it (proposed ticked)."""
    share = ink_share(box_crop(gray, field.box))
    if share >= FILLED_BOX_INK:
        return RawField("false", 0.0, "omr", ("filled_box",))
    if share >= CHECKBOX_CLEAR_INK and mark_reader.struck_checkbox(
        gray, widened_print(form_id, field.page, 1), field.box
    ):
        return RawField("false", 0.0, "omr", ("struck_through",))
    if share >= CHOICE_MARK_INK:
        slashed = mark_reader.slash_over_mark(gray, field.box)
        if slashed == "struck_through":
            return RawField("false", 0.0, "omr", ("struck_through",))
        if slashed == "unsure_mark":  # a tick gone over again, or struck along its arm
            return RawField("true", 0.5, "omr", ("unsure_mark",))
        return RawField("true", 1.0, "omr")
    if share < CHECKBOX_CLEAR_INK:
        if mark_reader.mark_beside(gray, field.box):
            return RawField("true", 0.0, "omr", ("mark_beside",))
        return RawField("false", 1.0, "omr")
    return RawField("false", 0.5, "omr", ("unsure_mark",))
