"""The single-cell digit recogniser and the real handwritten digits of the benchmark."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kura.bench.synth import mnist
from kura.bench.synth.corpus import generate_corpus
from kura.bench.synth.handwriting import HandStyle, _Pen, fill_form
from kura.bench.synth.places import format_phone
from pipeline import digitcells, digits, digitsettle
from pipeline.ocr import Reading
from pipeline.rawfield import RawField
from pipeline.template import cell_boxes
from schemas.forms import get_form


def _cell(mask: np.ndarray, side: int = 100) -> np.ndarray:
    """A white cell with the ink mask drawn dark in its middle, as a cell crop looks."""
    import cv2

    big = cv2.resize(mask, (mask.shape[1] * 3, mask.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
    cell = np.full((side, side), 255, np.uint8)
    top, left = (side - big.shape[0]) // 2, (side - big.shape[1]) // 2
    cell[top : top + big.shape[0], left : left + big.shape[1]] = 255 - big
    return cell


def test_the_measuring_part_of_mnist_never_overlaps_the_training_part() -> None:
    measure, train = set(mnist.split("measure")), set(mnist.split("train"))
    assert len(measure) == 2000 and len(train) == 8000 and not measure & train


def test_the_shipped_model_is_small_and_reads_held_out_real_digits() -> None:
    assert digits.MODEL.stat().st_size < 600_000
    images, labels = mnist.load()
    held_out = mnist.split("measure")[::4]  # 500 digits no training saw
    read_as = digits.read_cells([_cell(images[i]) for i in held_out])
    right = sum(d == str(labels[i]) for (d, _), i in zip(read_as, held_out, strict=True))
    assert right / len(held_out) >= 0.96
    assert digits.read_cells([np.full((80, 80), 255, np.uint8)]) == [("", 0.0)]


def test_the_digit_model_and_the_postal_codes_settle_a_misread_cell() -> None:
    form = get_form("kokunen_hihokensha_todoke")
    field = form.field("postal_code")
    x, y, w, h = field.box
    images, labels = mnist.load()
    gray = np.full((y + h + 40, x + w + 40), 255, np.uint8)
    wanted = "1700013"
    cells = cell_boxes(field)
    rng = random.Random(3)
    for digit, (cx, cy, cw, ch) in zip(wanted, cells, strict=True):
        index = next(
            i for i in mnist.split("measure")[rng.randrange(50) :] if str(labels[i]) == digit
        )
        cell = _cell(images[index], side=min(cw, ch) - 20)
        gray[cy + 10 : cy + 10 + cell.shape[0], cx + 10 : cx + 10 + cell.shape[1]] = cell
    agreed = digitsettle.settle_digits(gray, field, RawField(wanted, 0.9, "ppocr"))
    assert agreed.text == wanted and "engines_disagree" not in agreed.notes
    # PP-OCR misread the last cell as a digit that makes no postal code: the others settle it
    misread = digitsettle.settle_digits(gray, field, RawField("1700018", 0.9, "ppocr"))
    assert misread.text == wanted and not misread.notes
    # nor a six-digit reading of seven written cells
    miscounted = digitsettle.settle_digits(gray, field, RawField("170001", 0.9, "ppocr"))
    assert "engines_disagree" in miscounted.notes


def test_pp_ocr_s_opinion_of_each_cell_comes_from_under_that_cell() -> None:
    """A postal code written with real held-out digits: what PP-OCR saw under each cell,
    told from the frames of its one reading of the row, is that cell's digit."""
    from pipeline.fields import DIGITS
    from pipeline.ocr import get_engine

    form = get_form("kokunen_hihokensha_todoke")
    field = form.field("postal_code")
    x, y, w, h = field.box
    images, labels = mnist.load()
    gray = np.full((y + h + 40, x + w + 40), 255, np.uint8)
    wanted = "1700013"
    rng = random.Random(3)
    for digit, (cx, cy, cw, ch) in zip(wanted, cell_boxes(field), strict=True):
        index = next(
            i for i in mnist.split("measure")[rng.randrange(50) :] if str(labels[i]) == digit
        )
        cell = _cell(images[index], side=min(cw, ch) - 20)
        gray[cy + 10 : cy + 10 + cell.shape[0], cx + 10 : cx + 10 + cell.shape[1]] = cell
    raw = digitcells.read_cells(gray, field, get_engine("ppocr"), DIGITS)
    assert raw.cell_digits is not None and raw.cell_digits.shape == (7, 10)
    assert "".join(str(int(d)) for d in np.argmax(raw.cell_digits, axis=1)) == wanted
    assert np.allclose(raw.cell_digits.sum(axis=1), 1.0)
    settled = digitsettle.settle_digits(gray, field, raw)
    assert settled.text == wanted


def test_generate_writes_real_handwritten_digits_on_request(tmp_path: Path) -> None:
    generate_corpus(tmp_path, 1, seed=3, quick=True, digits="mnist")
    truth = json.loads(next(tmp_path.glob("*.truth.json")).read_text(encoding="utf-8"))
    assert truth["effects"]["handwriting"]["digits"] == "mnist"


def _number_boxes(text: str, seed: int) -> list[tuple[str, float, float]]:
    """(character, ink left, ink right) of `text` laid out in real digits by a writer."""
    rng = random.Random(seed)
    pen = _Pen(HandStyle(digits="mnist").resolve(rng), rng)
    placed, _ = pen.real_digit_line(text, 60.0, None)
    boxes = []
    for ch, (mask, left, _dy) in zip(text, placed, strict=True):
        ink = mask.getbbox()
        assert ink is not None
        boxes.append((ch, left + ink[0], left + ink[2]))
    return boxes


def test_the_real_digits_of_a_freehand_number_stand_mostly_apart() -> None:
    apart = touching = crossing = 0
    for seed in range(150):
        number = format_phone("0" + "".join(random.Random(seed).choices("0123456789", k=10)))
        boxes = _number_boxes(number, seed)
        for (a, _, a_right), (b, b_left, _) in itertools.pairwise(boxes):
            if "-" in (a, b):
                assert b_left > a_right, "a hyphen stands apart from its digits"
            elif b_left - a_right > 1:
                apart += 1
            elif b_left - a_right >= -1:
                touching += 1
            else:
                crossing += 1
    pairs = apart + touching + crossing
    assert pairs == 150 * 8  # 11 digits in three groups
    assert crossing / pairs <= 0.06
    assert 0.08 <= touching / pairs <= 0.25
    assert apart / pairs >= 0.7


def test_a_freehand_number_too_long_for_its_box_is_written_smaller_to_fit() -> None:
    def lay_out(room: float | None) -> tuple[list[tuple[Image.Image, float, float]], float]:
        rng = random.Random(5)
        return _Pen(HandStyle(digits="mnist").resolve(rng), rng).real_digit_line(
            "090-3954-7761", 60.0, room
        )

    placed, width = lay_out(None)
    smaller, fitted = lay_out(width * 0.6)
    assert fitted == pytest.approx(width * 0.6)
    ink_right = max(left + (mask.getbbox() or (0, 0, 0, 0))[2] for mask, left, _ in smaller)
    assert ink_right <= width * 0.6 + 1
    assert max(m.height for m, _, _ in smaller) < 0.7 * max(m.height for m, _, _ in placed)


@pytest.mark.parametrize(
    "form_id", ["kokunen_hihokensha_todoke", "kokunen_menjo_shinsei", "kokunen_sanzen_sango"]
)
def test_a_phone_number_in_real_digits_stays_in_its_box(form_id: str) -> None:
    form = get_form(form_id)
    field = next(f for f in form.fields if f.type == "phone")
    x, y, w, h = field.box
    style = HandStyle(digits="mnist", overflow_rate=0.0, seal_rate=0.0)
    blank = np.asarray(fill_form(form, {}, random.Random(0), style)[0].convert("L"), np.int16)
    for seed in range(6):
        number = "090" + "".join(random.Random(seed).choices("0123456789", k=8))
        page = fill_form(form, {"phone": number}, random.Random(seed), style)[field.page - 1]
        ink = np.abs(np.asarray(page.convert("L"), np.int16) - blank) > 40
        rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
        assert len(cols) > 0
        assert x <= cols[0] and cols[-1] < x + w, (seed, cols[0], cols[-1])
        assert y <= rows[0] and rows[-1] < y + h, (seed, rows[0], rows[-1])


def test_mnist_missing_says_where_to_put_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KURA_MNIST_DIR", str(tmp_path))
    mnist.load.cache_clear()
    try:
        with pytest.raises(FileNotFoundError):
            mnist.load()
    finally:
        monkeypatch.delenv("KURA_MNIST_DIR")
        mnist.load.cache_clear()


class _DropsADigit:
    """A recogniser whose reading of the row drops the third digit (nothing under that
    cell), and which reads each cell alone right: digits 0-9 are outputs 1-10."""

    name = "ppocr"

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted

    def columns(self, characters: str) -> list[int]:
        return [1 + int(ch) for ch in characters]

    def read_with_frames(
        self, images: list[np.ndarray], alphabet: str | None = None
    ) -> list[tuple[Reading, np.ndarray]]:
        if len(images) == 1 and len(self.wanted) > 1:  # the row: a frame per 10 columns
            frames = np.zeros((images[0].shape[1] // 10, 11))
            frames[:, 0] = 1.0
            inked = np.flatnonzero((images[0] < 128).any(axis=0))
            breaks = np.flatnonzero(np.diff(inked) > 1)
            lefts = [inked[0], *inked[breaks + 1]]
            rights = [*inked[breaks], inked[-1]]
            spans = list(zip(lefts, rights, strict=True))
            for cell, (digit, (left, right)) in enumerate(zip(self.wanted, spans, strict=True)):
                if cell != 2:
                    frames[(left + right) // 20] = 0.0
                    frames[(left + right) // 20, 1 + int(digit)] = 1.0
            text = self.wanted[:2] + self.wanted[3:]
            return [(Reading(text, 0.9, self.name), frames)]
        alone = []
        for digit in self.wanted:
            frames = np.zeros((4, 11))
            frames[:, 0] = 1.0
            frames[1] = 0.0
            frames[1, 1 + int(digit)] = 1.0
            alone.append((Reading(digit, 0.9, self.name), frames))
        return alone


def test_a_digit_the_row_s_reading_dropped_is_read_in_its_cell_alone() -> None:
    from pipeline.fields import DIGITS

    field = get_form("kokunen_hihokensha_todoke").field("postal_code")
    x, y, w, h = field.box
    gray = np.full((y + h + 40, x + w + 40), 255, np.uint8)
    for cx, cy, cw, ch in cell_boxes(field):  # a blot of ink in every cell: written
        gray[cy + 20 : cy + ch - 20, cx + 20 : cx + cw - 20] = 0
    raw = digitcells.read_cells(gray, field, _DropsADigit("1790013"), DIGITS)  # type: ignore[arg-type]
    assert raw.text == "1790013" and raw.cell_digits is not None
    assert "".join(str(int(d)) for d in np.argmax(raw.cell_digits, axis=1)) == "1790013"


def test_a_phone_number_the_first_reading_dropped_a_digit_of_is_proposed_as_the_second_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Benchmark --digits mnist --seed 5: 090-3925-4776 with the 2 and 5 run together, read
    090-3954776 by PP-OCR v6 (ten digits: no mobile number) and 09039254776 by v5. A person
    still decides, shown the number that is one."""
    field = get_form("kokunen_hihokensha_todoke").field("phone")
    gray = np.full((3508, 2480), 255, np.uint8)  # a blank A4 page: nothing for the model
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "09039254776")
    raw = RawField("090-3954776", 0.9, "ppocr")
    weighed = digitsettle.weigh_second_opinion(gray, field, raw)
    assert weighed.text == "09039254776" and "engines_disagree" in weighed.notes
    # where the first reading makes a number and the second does not, the first is shown
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "0903925477")
    raw = RawField("090-3925-4776", 0.9, "ppocr")
    weighed = digitsettle.weigh_second_opinion(gray, field, raw)
    assert weighed.text == "090-3925-4776" and "engines_disagree" in weighed.notes
    # where both read the same digits, and the digit model has no veto, the reading stands
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "09039254776")
    monkeypatch.setattr(digitsettle, "model_doubts_a_digit", lambda *_: False)
    assert digitsettle.weigh_second_opinion(gray, field, raw) == raw


def _written_phone(number: str) -> tuple[np.ndarray, object]:
    """A page with `number` written into the phone box in real handwritten digits (the
    MNIST part kept for measuring) set well apart, as a grey page with only the writing."""
    import cv2

    field = get_form("kokunen_hihokensha_todoke").field("phone")
    x, y, w, h = field.box
    gray = np.full((y + h + 100, x + w + 500), 255, np.uint8)
    images, labels = mnist.load()
    measure = mnist.split("measure")
    left = x + 20
    for k, ch in enumerate(number):
        if ch == "-":
            cv2.line(gray, (left + 4, y + h // 2), (left + 24, y + h // 2), 0, 4)
            left += 30
            continue
        index = next(i for i in measure[3 * k :] if str(labels[i]) == ch)
        cell = _cell(images[index], side=min(h - 10, 90))
        top = y + (h - cell.shape[0]) // 2
        gray[top : top + cell.shape[0], left : left + cell.shape[1]] = np.minimum(
            gray[top : top + cell.shape[0], left : left + cell.shape[1]], cell
        )
        left += int(cell.shape[1] * 0.8)
    return gray, field


def test_the_digit_model_may_veto_a_phone_number_both_recognisers_read_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Benchmark --digits mnist --seed 7: 07053204706 with a 2 like a 1, read 07053104706 by
    PP-OCR v6 and v5 alike and accepted; the digit model, shown that digit cut out of the
    line, gave 1 almost nothing: a person decides."""
    gray, field = _written_phone("03-1234-5678")
    assert not digitsettle.model_doubts_a_digit(gray, field, "ppocr", "0312345678")
    # a number the line does not read as is doubted
    assert digitsettle.model_doubts_a_digit(gray, field, "ppocr", "0312345670")
    # a digit the model gives less than the veto sends the number to a person
    sure = digitsettle.digit_model.cell_probabilities

    def doubting_the_fourth(cells: list[np.ndarray]) -> list[np.ndarray | None]:
        probabilities = sure(cells)
        fourth = np.full(10, 0.1)
        fourth[2], fourth[1] = 0.005, 0.995 - 0.1 * 8
        return [fourth if k == 3 else p for k, p in enumerate(probabilities)]

    monkeypatch.setattr(digitsettle.digit_model, "cell_probabilities", doubting_the_fourth)
    assert digitsettle.model_doubts_a_digit(gray, field, "ppocr", "0312345678")
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "0312345678")
    weighed = digitsettle.weigh_second_opinion(gray, field, RawField("03-1234-5678", 0.9, "ppocr"))
    assert "engines_disagree" in weighed.notes


def test_a_phone_number_the_recognisers_read_differently_goes_to_a_person_whatever_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held-out --digits mnist --seed 3: 022-655-3008 with its first 2 written like a 7, read
    072-655-3008 by PP-OCR v6 and 073-655-3008 by v5; the digit model, shown each digit cut
    out at v6's characters, gave every one at least 0.988 — the 7 at 1.00. Letting the model
    and v6 out-vote v5 (tried in session 7, from two right cases on the tuning seeds) accepted
    it: the readers' difference is what caught the error all three made alike."""
    gray, field = _written_phone("03-1234-5678")
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "031234567")
    raw = RawField("03-1234-5678", 0.9, "ppocr")
    weighed = digitsettle.weigh_second_opinion(gray, field, raw)
    assert weighed.text == raw.text and "engines_disagree" in weighed.notes


def _written_address(parts: list[str], digit_scale: float, gap: int) -> tuple[np.ndarray, object]:
    """A page with an address written into the 免除申請書's address box: the words in the
    printed font, the numbers in real handwritten digits (the MNIST part kept for
    measuring) `digit_scale` of the words' height, `gap` pixels apart (below 0: crossing)."""
    import cv2
    from PIL import ImageDraw, ImageFont

    from pipeline.fonts import PRINTED_FONT

    field = get_form("kokunen_menjo_shinsei").field("address")
    x, y, w, h = field.box
    page = Image.new("L", (x + w + 100, y + h + 100), 255)
    font = ImageFont.truetype(str(PRINTED_FONT), 64)
    images, labels = mnist.load()
    measure = mnist.split("measure")
    left, top = x + 30, y + 30
    for part in parts:
        if not part.isdigit():  # each character apart, as a hand writes them
            for ch in part:
                ImageDraw.Draw(page).text((left, top), ch, font=font, fill=0)
                left += int(ImageDraw.Draw(page).textlength(ch, font=font)) + 8
            continue
        ink = np.asarray(page).copy()
        for k, ch in enumerate(part):
            index = next(i for i in measure[7 * k + 11 :] if str(labels[i]) == ch)
            side = int(64 * digit_scale)
            digit = cv2.resize(images[index], (side, side), interpolation=cv2.INTER_CUBIC)
            columns = np.flatnonzero(digit.max(axis=0) > 60)
            digit = 255 - digit[:, columns[0] : columns[-1] + 1]
            under = ink[top + 64 - side : top + 64, left : left + digit.shape[1]]
            ink[top + 64 - side : top + 64, left : left + digit.shape[1]] = np.minimum(under, digit)
            left += digit.shape[1] + gap
        page, left = Image.fromarray(ink), left + 6
    return np.asarray(page), field


def test_the_digits_of_an_address_written_apart_and_read_right_are_not_doubted() -> None:
    from pipeline import read

    gray, field = _written_address(["京都府福知山市小原田", "40", "番地", "3"], 1.0, 8)
    raw = read.read_field(gray, gray, field, "kokunen_menjo_shinsei")  # type: ignore[arg-type]
    assert raw.text == "京都府福知山市小原田40番地3"
    # (the printed font's wide glyphs do count as too few characters for their width)
    assert digitsettle.address_digits_doubt(gray, field, "ppocr") is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seed", "document", "written", "read_as"),
    [
        (3, "doc_00005.jpg", "上愛子13番地21", "上愛子1番地21"),
        (71, "doc_00007.pdf", "小原田40番地3", "小原田番地3"),
    ],
)
def test_an_address_the_recogniser_dropped_a_written_digit_of_goes_to_a_person(
    tmp_path: Path, seed: int, document: str, written: str, read_as: str
) -> None:
    """The two addresses --digits mnist accepted with digits dropped (docs/benchmarks.md,
    "Freehand digits at their own width"): on seed 71 the 40 written small against 田 was
    not read and 田 to 番 held twice the line's writing between their middles; on seed 3 the
    recogniser put its 1 on a sliver between the 1 and 3 its neighbours took."""
    from pipeline.ingest import rasterise
    from pipeline.page import read_page

    generate_corpus(tmp_path, 12, seed=seed, digits="mnist")
    truth = json.loads((tmp_path / document).with_suffix(".truth.json").read_text())
    assert truth["fields"]["address"].endswith(written)
    page = rasterise((tmp_path / document).read_bytes())[0]
    address = read_page(page)[0].fields["address"]
    assert address.raw.endswith(read_as)
    assert address.status == "review" and "characters_missing" in address.reasons


def test_an_address_s_digits_stand_only_where_each_is_a_digit_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decision on a drawn line whose characters are placed by hand: writing between two
    characters' middles far wider than the line's others, or a digit on a sliver of ink, is
    a dropped digit; a digit the model doubts is the two readers disagreeing; characters
    evenly apart with digits the model vouches for stand."""
    field = get_form("kokunen_menjo_shinsei").field("address")
    x, y, w, h = field.box
    gray = np.full((y + h + 100, x + w + 100), 255, np.uint8)
    for k in range(6):  # six characters 60 px tall, 50 wide, 20 apart
        gray[y + 30 : y + 90, x + 30 + 70 * k : x + 80 + 70 * k] = 0
    gray[y + 60 : y + 64, x + 296 : x + 298] = 0  # a speck after the fourth
    line = gray[y + 26 : y + 94, x + 26 : x + 500]
    monkeypatch.setattr(digitsettle, "written_lines", lambda *_: [line])
    vouched = [np.eye(10)[d] for d in (1, 2)]
    model = digitsettle.digit_model
    monkeypatch.setattr(model, "cell_probabilities", lambda cells: vouched[: len(cells)])

    def read_as(*spans: tuple[str, int, int, int]) -> None:
        monkeypatch.setattr(digitsettle, "line_characters", lambda *_: list(spans))

    # six characters 50 wide, 20 apart: from one's middle to the next's 70 columns of writing
    own = [("番", 0, 60, 29), ("地", 60, 130, 99), ("1", 130, 200, 169), ("2", 200, 270, 239)]
    read_as(*own)
    assert digitsettle.address_digits_doubt(gray, field, "ppocr") is None
    read_as(*own[:3], ("2", 200, 400, 379))  # 2 read on the sixth: the fifth between not read
    assert digitsettle.address_digits_doubt(gray, field, "ppocr") == "characters_missing"
    read_as(*own[:3], ("2", 200, 266, 239), ("1", 266, 280, 273))  # a 1 read on the speck
    assert digitsettle.address_digits_doubt(gray, field, "ppocr") == "characters_missing"
    vouched[1] = np.eye(10)[7]  # the model sees a 7 where the line reads 2
    read_as(*own)
    assert digitsettle.address_digits_doubt(gray, field, "ppocr") == "engines_disagree"


def _phone_touching(touching: tuple[int, ...], wide: tuple[int, ...]) -> tuple[np.ndarray, object]:
    """03-1234-5678 written into the phone box in real handwritten digits (the MNIST part
    kept for measuring), each character's ink 14 px after the one before; the characters at
    the positions in `touching` run into the next (2 px over), those in `wide` drawn 1.6
    times as wide as high."""
    import cv2

    field = get_form("kokunen_hihokensha_todoke").field("phone")
    x, y, w, h = field.box
    gray = np.full((y + h + 100, x + w + 500), 255, np.uint8)
    images, labels = mnist.load()
    measure = mnist.split("measure")
    left, side = x + 20, min(h - 10, 90)
    for k, ch in enumerate("03-1234-5678"):
        if ch == "-":
            cv2.line(gray, (left + 4, y + h // 2), (left + 24, y + h // 2), 0, 4)
            left += 44
            continue
        index = next(i for i in measure[3 * k :] if str(labels[i]) == ch)
        digit = cv2.resize(images[index], (int(side * (1.6 if k in wide else 1)), side),
                           interpolation=cv2.INTER_CUBIC)
        columns = np.flatnonzero(digit.max(axis=0) > 60)
        ink = 255 - digit[:, columns[0] : columns[-1] + 1]
        top = y + (h - side) // 2
        under = gray[top : top + side, left : left + ink.shape[1]]
        gray[top : top + side, left : left + ink.shape[1]] = np.minimum(under, ink)
        left += ink.shape[1] + (-2 if k in touching else 14)
    return gray, field


def test_digits_that_touch_are_cut_apart_into_as_many_as_the_recogniser_read() -> None:
    """On the tuning seeds (--digits mnist 3, 61–93) most freehand phone numbers were read as
    a line only: two digits touched (one piece for two) or a real digit was wider than 1.2
    times its height. With the count PP-OCR read, the touching ones are cut where the model
    reads both halves surest — not in the widest piece: a 3 wider than a 6 touching an 8 on
    seed 83 — and a wide digit is a digit."""
    gray, field = _phone_touching(touching=(8,), wide=(11,))  # 5 runs into 6; a wide 8
    assert len(digitsettle.digit_glyphs(gray, field)) != 10  # no count: not cut apart
    glyphs = digitsettle.digit_glyphs(gray, field, 10)
    read = "".join(str(int(np.argmax(p))) for p in digits.cell_probabilities(glyphs))
    assert read == "0312345678"
    gray, field = _phone_touching(touching=(4, 8), wide=(0,))  # 2 into 3, 5 into 6, a wide 0
    glyphs = digitsettle.digit_glyphs(gray, field, 10)
    assert "".join(str(int(np.argmax(p))) for p in digits.cell_probabilities(glyphs)) == (
        "0312345678")
    # a count no cut can make without leaving a sliver: read as a line
    gray, field = _phone_touching(touching=(), wide=())
    assert digitsettle.digit_glyphs(gray, field, 40) == []


def test_a_phone_number_its_cut_digits_leave_unsure_is_read_as_a_line_where_both_read_it_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cut apart, a digit the model is unsure of (below `model_trusted`) leaves the number
    open; where both recognisers read the same digits it is decided as before the cutting,
    as a line (the model's veto, the recogniser's confidence and doubts); where they differ,
    a person decides."""
    gray, field = _phone_touching(touching=(8,), wide=())
    unsure = digits.cell_probabilities(digitsettle.digit_glyphs(gray, field, 10))
    unsure[3] = np.full(10, 0.2 / 9)
    unsure[3][2] = 0.8
    monkeypatch.setattr(digitsettle.digit_model, "cell_probabilities", lambda cells: unsure)
    as_a_line = RawField("03-1234-5678", 0.9, "ppocr", notes=("as_a_line",))
    monkeypatch.setattr(digitsettle, "weigh_second_opinion", lambda *_: as_a_line)
    raw = RawField("03-1234-5678", 0.9, "ppocr")
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "0312345678")
    assert digitsettle.read_phone(gray, field, raw) == as_a_line
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "0312845678")
    differ = digitsettle.read_phone(gray, field, raw)
    assert differ != as_a_line and "engines_disagree" in differ.notes


def test_a_phone_number_cut_astray_is_shown_to_a_person_as_the_line_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A faint first digit lost to the cutting and a wide one cut in two leave every piece
    after it one place off, and the model reads other digits than the line in most places
    (--digits mnist --seed 101: 070-2536-6930 shown as 07055366930): a person is shown the
    line's reading, not a mix of the two."""
    gray, field = _phone_touching(touching=(), wide=())
    one_off = [np.eye(10)[int(d)] for d in "3123456788"]
    monkeypatch.setattr(digitsettle.digit_model, "cell_probabilities",
                        lambda cells: one_off[: len(cells)])
    monkeypatch.setattr(digitsettle, "second_opinion", lambda *_: "0312345670")
    read = digitsettle.read_phone(gray, field, RawField("03-1234-5678", 0.9, "ppocr"))
    assert "engines_disagree" in read.notes
    assert digitsettle.digits_of(read.text) == "0312345678"


def _field_canvas(field_name: str = "postal_code") -> tuple[np.ndarray, object]:
    """A page with only the handwriting left (the print gone white), and the field."""
    field = get_form("kokunen_hihokensha_todoke").field(field_name)
    x, y, w, h = field.box
    return np.full((y + h + 200, x + w + 200), 255, np.uint8), field


def _ink(gray: np.ndarray, top: int, bottom: int, left: int, right: int) -> None:
    gray[top:bottom, left:right] = 40


def test_a_stroke_cut_where_it_crossed_a_cell_s_edge_line_goes_to_a_person() -> None:
    gray, field = _field_canvas()
    (x1, y, w, h), (x2, _, _, _) = cell_boxes(field)[:2]
    middle = y + h // 2
    _ink(gray, middle - 20, middle + 20, x1 + w // 2 - 4, x1 + w // 2 + 4)  # a 1 in its cell
    assert not digitcells.cut_by_a_line(gray, field)
    near = digitcells.LINE_GUARD_PX + 1
    # a stroke beside the line, on one side of it only, is not cut
    along = gray.copy()
    _ink(along, middle - 15, middle + 15, x2 + near, x2 + near + 3)
    assert not digitcells.cut_by_a_line(along, field)
    # a stroke across the line between the cells, its part on the line gone with the print
    across = gray.copy()
    _ink(across, middle, middle + 6, x2 - 14, x2 - near)
    _ink(across, middle + 3, middle + 9, x2 + near, x2 + 14)
    assert digitcells.cut_by_a_line(across, field)
    # the same stroke bridged across the line is whole
    _ink(across, middle + 1, middle + 8, x2 - near, x2 + near)
    assert not digitcells.cut_by_a_line(across, field)


def test_a_digit_written_low_across_the_box_s_bottom_line_is_read_whole_in_its_cell() -> None:
    gray, field = _field_canvas()
    (x1, y, w, h), (x2, _, w2, _) = cell_boxes(field)[:2]
    _ink(gray, y + h // 3, y + h + 30, x1 + w // 2 - 4, x1 + w // 2 + 4)  # runs 30 px below
    _ink(gray, y + h // 3, y + 2 * h // 3, x2 + w2 // 2 - 4, x2 + w2 // 2 + 4)
    first, second = digitcells.cell_crops(gray, field)[:2]
    assert first is not None and second is not None
    pad = 2 * 12
    assert first.shape[0] - pad == h + 30 - h // 3  # whole, not cut at the line
    assert second.shape[0] - pad == 2 * h // 3 - h // 3
    # a digit strayed half into its neighbour's cell is that cell's, not the neighbour's
    strayed = np.full_like(gray, 255)
    _ink(strayed, y + h // 3, y + 2 * h // 3, x2 - 10, x2 + 30)
    crops = digitcells.cell_crops(strayed, field)
    assert crops[0] is None and crops[1] is not None and crops[1].shape[1] - pad == 40
