"""Personal data stays out of the plumbing: a logging filter that masks 個人番号 (12 digits),
基礎年金番号 (10 digits, also NNNN-NNNNNN) and every personal value this process has handled.

`install()` masks at the source: it wraps the log record factory, so every record of every
logger is masked before any handler, formatter or third-party library sees it (a filter on
one handler would miss handlers that Celery or uvicorn add later). `PersonalDataFilter` is
the same masking as a `logging.Filter`, for handlers configured by hand.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable

MASK = "＊＊＊"

_DIGIT = "0-9０-９"
_BOUNDARY_BEFORE = rf"(?<![{_DIGIT}A-Za-z])"
_BOUNDARY_AFTER = rf"(?![{_DIGIT}A-Za-z])"
_SEP = r"[ \-‐－ー―]?"
NUMBER_PATTERNS = (
    # 個人番号: 12 digits, maybe written 4-4-4
    re.compile(rf"{_BOUNDARY_BEFORE}[{_DIGIT}]{{4}}{_SEP}[{_DIGIT}]{{4}}{_SEP}[{_DIGIT}]{{4}}"
               rf"{_BOUNDARY_AFTER}"),
    # 基礎年金番号: 10 digits, maybe written 4-6
    re.compile(rf"{_BOUNDARY_BEFORE}[{_DIGIT}]{{4}}{_SEP}[{_DIGIT}]{{6}}{_BOUNDARY_AFTER}"),
)

_MAX_VALUES = 20_000
_MIN_VALUE_CHARS = 2
_values: OrderedDict[str, None] = OrderedDict()
_values_lock = threading.Lock()
_values_pattern: re.Pattern[str] | None = None


def mask_numbers(text: str) -> str:
    for pattern in NUMBER_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def _variants(value: str) -> set[str]:
    value = value.strip()
    found = {value, value.replace(" ", "").replace("　", ""), value.replace("　", " ")}
    found |= {part for part in re.split(r"[ 　]+", value) if len(part) >= 3}
    return {v for v in found if len(v) >= _MIN_VALUE_CHARS}


def register(values: Iterable[str | None]) -> None:
    """Remember personal values this process handles, so a log line that mentions one is
    masked. Kept in memory only, the newest 20,000."""
    global _values_pattern
    added = False
    with _values_lock:
        for value in values:
            if not value:
                continue
            for variant in _variants(value):
                if variant in _values:
                    _values.move_to_end(variant)
                else:
                    _values[variant] = None
                    added = True
        while len(_values) > _MAX_VALUES:
            _values.popitem(last=False)
        if added:
            _values_pattern = None


def forget_all() -> None:
    global _values_pattern
    with _values_lock:
        _values.clear()
        _values_pattern = None


def _pattern() -> re.Pattern[str] | None:
    global _values_pattern
    with _values_lock:
        if _values_pattern is None and _values:
            ordered = sorted(_values, key=len, reverse=True)
            _values_pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return _values_pattern


def mask(text: str) -> str:
    """The text with every number pattern and every registered personal value masked."""
    pattern = _pattern()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return mask_numbers(text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_kura_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we can, masked
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = mask(message), None
    if record.exc_info and record.exc_info[0] is not None:
        formatted = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = mask(formatted.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    record._kura_masked = True
    return record


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_installed = False


def install() -> None:
    """Mask every log record of this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    logging.captureWarnings(True)
    _installed = True


class JsonLines(logging.Formatter):
    """One JSON object per line (KURA_LOG_JSON), for a log collector: time, level, logger,
    the (masked) message and the exception, if any. Kura's own messages carry ids and
    codes only."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage(),
                "process": record.process}
        if record.exc_info or record.exc_text:
            line["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, json_lines: bool = False) -> None:
    """Logging for the `kura` command: masked, to stderr, at `level`, as text or as JSON
    lines. SQLAlchemy's statement log and the chatter of Alembic and pikepdf stay off
    unless the level is DEBUG."""
    install()
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if json_lines:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
    if level.upper() != "DEBUG":
        for noisy in ("sqlalchemy", "alembic", "pikepdf"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
