"""Is a katakana reading (フリガナ) one that the written kanji name can have?

Readings come from SudachiDict (Apache-2.0, installed from PyPI, read offline): a name is
explained when its kanji can be cut into pieces whose dictionary readings, joined, spell the
kana. Pieces are looked up whole first (佐藤, 大翔, 龍之介), so a name the dictionary lists
is matched as listed, and a name it does not list is still explained kanji by kanji (陽 +
翔). A piece after the first may take rendaku (サキ → ザキ in 山崎) or end in a small ッ.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from pipeline import fields, lexicon
from schemas.calibration import calibration
from schemas.contracts import FieldResult
from schemas.forms import FormDef
from schemas.normalise import to_katakana

LONGEST_PIECE = 4
RENDAKU = dict(
    zip(
        "カキクケコサシスセソタチツテトハヒフヘホ",
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボ",
        strict=True,
    )
)
HANDAKU = dict(zip("ハヒフヘホ", "パピプペポ", strict=True))
UNVOICED = {voiced: plain for plain, voiced in (*RENDAKU.items(), *HANDAKU.items())}
GEMINATING_ENDS = "ツチクキ"
BEFORE_GEMINATION = set("カキクケコサシスセソタチツテトパピプペポ")


@lru_cache(maxsize=1)
def _dictionary() -> Any:
    from sudachipy import Dictionary

    return Dictionary(dict="core")


@lru_cache(maxsize=20000)
def readings_of(piece: str, first: bool = False) -> frozenset[str]:
    """Every katakana reading the dictionary gives this exact piece of writing. At the
    start of a name, not a suffix's reading, nor a voiced one listed beside its unvoiced
    form (田 as ダ, 林 as バヤシ: the sound that only changes inside a compound)."""
    kana = to_katakana(piece)
    if all(ch in fields.KATAKANA for ch in kana):  # written in kana: it reads as written
        return frozenset({kana})
    entries = [m for m in _dictionary().lookup(piece) if m.reading_form()]
    found = {m.reading_form() for m in entries if not (first and m.part_of_speech()[0] == "接尾辞")}
    if first:
        found = {r for r in found if not (r[0] in UNVOICED and UNVOICED[r[0]] + r[1:] in found)}
    return frozenset(found)


def _sound_changes(reading: str, first: bool) -> set[str]:
    forms = {reading}
    if not first and reading[0] in RENDAKU:
        forms.add(RENDAKU[reading[0]] + reading[1:])
        if reading[0] in HANDAKU:
            forms.add(HANDAKU[reading[0]] + reading[1:])
    if reading[-1] in GEMINATING_ENDS and len(reading) > 1:
        forms |= {form[:-1] + "ッ" for form in list(forms)}
    return forms


def kana_fits(kana: str, name: str) -> bool:
    """Whether `kana` (spaces ignored) is a reading of `name` (spaces ignored; 々 repeats
    the kanji before it; variant kanji read as their standard form)."""
    kana = kana.replace(" ", "").replace("\u3000", "")
    written = lexicon.fold_variants(name.replace(" ", "").replace("\u3000", ""))
    written = "".join(written[i - 1] if ch == "々" and i else ch for i, ch in enumerate(written))
    if not kana or not written:
        return False
    return _fits(kana, written, 0, 0, {})


def _fits(kana: str, written: str, at: int, into: int, memo: dict[tuple[int, int], bool]) -> bool:
    if at == len(written):
        return into == len(kana)
    if (at, into) in memo:
        return memo[(at, into)]
    memo[(at, into)] = False
    for end in range(min(len(written), at + LONGEST_PIECE), at, -1):
        for reading in readings_of(written[at:end], first=at == 0):
            for form in _sound_changes(reading, first=at == 0):
                after = into + len(form)
                if not kana.startswith(form, into):
                    continue
                if form[-1] == "ッ" and (
                    after >= len(kana) or kana[after] not in BEFORE_GEMINATION
                ):
                    continue
                if _fits(kana, written, end, after, memo):
                    memo[(at, into)] = True
                    return True
    return False


MAX_CHANGES = 2
SETTLED_BY_READING = ("doubt:", "small_kana", "low_confidence")
"""Review reasons about how a kana was read, which a reading of the name can settle."""


def kana_candidates(kana: str, runners_up: tuple[tuple[str, str, float], ...]) -> list[str]:
    """The kana as read, then what it would be had the recogniser taken its near misses
    (at most MAX_CHANGES of them), small and large kana counted as near misses of each other."""
    nearly: dict[str, set[str]] = {}
    for read, alternative, _ in runners_up:
        nearly.setdefault(read, set()).add(alternative.strip())
    for small, large in lexicon.SMALL_TO_LARGE.items():
        nearly.setdefault(small, set()).add(large)
        nearly.setdefault(large, set()).add(small)
    options = [[ch, *sorted(nearly.get(ch, ()))] for ch in kana]
    found = [kana]
    changeable = [i for i, choices in enumerate(options) if len(choices) > 1]
    for count in range(1, MAX_CHANGES + 1):
        for places in itertools.combinations(changeable, count):
            for picks in itertools.product(*(options[i][1:] for i in places)):
                chars = list(kana)
                for place, pick in zip(places, picks, strict=True):
                    chars[place] = pick
                found.append("".join(chars))
    return list(dict.fromkeys(found))


def settle_kana(
    form: FormDef, runners_up: dict[str, tuple], decided: dict[str, FieldResult]
) -> None:
    """Check each フリガナ against the name it reads, in place.

    The kana and the name are each taken as read and as they would be had the recogniser
    taken the near misses it was in doubt about. Where every pair that fits (the kana a
    reading of the name) has the same kana, that is what was written and the doubts about
    how the kana was read are settled; where they also have the same name, so are the
    name's doubts about its characters (a variant form, 邊 or 邉, reads alike and stays for
    a person). A name in doubt cannot vouch for a kana that fits only one of its readings
    (翔大 read for 翔太 fits ショウダ). Where nothing fits, kana and name both go to a person."""
    for field in form.fields:
        kana, name = decided.get(field.name), decided.get(field.name.removesuffix("_kana"))
        if field.type != "kana" or name is None or kana is None or not (kana.value and name.value):
            continue
        kanas = kana_candidates(kana.value, runners_up.get(field.name, ()))
        names = _name_candidates(name)
        fitting = [(k, n) for k in kanas for n in names if kana_fits(k, n)]
        if not fitting:
            for result in (kana, name):
                result.reasons.append("kana_does_not_read_name")
                result.status = "review"
            continue
        if len({k for k, _ in fitting}) == 1:
            kana.value = fitting[0][0]
            kana.reasons = [r for r in kana.reasons if not r.startswith(SETTLED_BY_READING)]
            kana.status = "review" if kana.reasons else "accepted"
            if len({n for _, n in fitting}) == 1 and len(names) > 1:
                name.value = fitting[0][1]
                name.reasons = [r for r in name.reasons if not _name_doubt(r)]
                if not name.reasons and name.confidence < calibration().accept_confidence["text"]:
                    name.reasons.append("low_confidence")
                name.status = "review" if name.reasons else "accepted"


def _name_doubt(reason: str) -> bool:
    """A doubt between two characters that read differently: variant forms (邊 or 邉) read
    alike, and the kana never settles them."""
    if not reason.startswith("doubt:"):
        return False
    read, _, nearly = reason.removeprefix("doubt:").partition("/")
    return lexicon.fold_variants(read) != lexicon.fold_variants(nearly)


def _name_candidates(name: FieldResult) -> list[str]:
    """The name as read, and with each character it was in doubt about (`doubt:` reasons)
    taken the other way, one at a time."""
    found = [name.value]
    for reason in name.reasons:
        if not reason.startswith("doubt:"):
            continue
        read, _, nearly = reason.removeprefix("doubt:").partition("/")
        if len(read) == 1 and len(nearly) == 1:
            found += [name.value[:i] + nearly + name.value[i + 1 :]
                      for i, ch in enumerate(name.value) if ch == read]
    return list(dict.fromkeys(found))
