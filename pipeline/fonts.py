"""Font files Kura draws with (Debian packages fonts-ipaexfont, fonts-klee, fonts-seto)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

PRINTED_FONT = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
HANDWRITING_FONTS = (
    Path("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf"),
    Path("/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf"),
    Path("/usr/share/fonts/truetype/seto/setofont.ttf"),
)


class MissingFontError(RuntimeError):
    pass


@lru_cache(maxsize=64)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.exists():
        raise MissingFontError(
            f"font {path} is missing: install fonts-ipaexfont fonts-klee fonts-seto"
        )
    return ImageFont.truetype(str(path), size)
