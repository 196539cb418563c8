"""What an office scanner does to a page: resolution, skew, shift, blur, noise, uneven light,
JPEG, 1-bit, a page fed upside down — and the nearly blank back of a sheet scanned duplex.

`scan(page, effects, rng)` takes a page drawn at the template's 300 dpi and returns the scan at
`effects.dpi`, with `image.info["dpi"] == (dpi, dpi)`.
"""

from __future__ import annotations

import io
import random
from dataclasses import asdict, dataclass, replace
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

ColorMode = Literal["rgb", "gray", "bw"]
TEMPLATE_DPI = 300
PAPER: tuple[int, int, int] = (250, 249, 244)


@dataclass(frozen=True)
class ScanEffects:
    """The strength of every effect; the defaults are a perfect 300 dpi colour scan."""

    dpi: int = 300
    """Output resolution (200–300 in practice); the page is resampled from 300 dpi."""
    rotation: float = 0.0
    """Skew in degrees, counter-clockwise (±3 in practice)."""
    shift: tuple[float, float] = (0.0, 0.0)
    """Offset of the sheet on the glass, in output pixels (x, y)."""
    scale: float = 1.0
    """Slight zoom (0.98–1.02): the scanner's scale is never exact."""
    blur: float = 0.0
    """Gaussian blur radius in output pixels."""
    noise: float = 0.0
    """Standard deviation of gaussian sensor noise, in grey levels."""
    illumination: float = 0.0
    """Uneven background light: 0 none … 1 strong (darkest corner about 25 % darker)."""
    paper_tone: float = 0.0
    """How far the paper is from pure white: 0 white … 1 yellowed recycled paper."""
    jpeg_quality: int | None = None
    """JPEG round trip at this quality (60–95), none when None or for 1-bit."""
    color_mode: ColorMode = "rgb"
    bw_threshold: int = 165
    """Grey level below which a 1-bit scan makes a pixel black."""
    upside_down: bool = False
    """The sheet went through the feeder rotated by 180°."""
    dark_border: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Dark bands at the left, top, right and bottom edges, in output pixels: the open lid
    or the feeder's belt seen around a sheet that does not fill the scan area."""
    perspective: tuple[float, ...] = (0.0,) * 8
    """How far each corner (top-left, top-right, bottom-left, bottom-right; x then y) moves,
    as a share of the page's width and height: a sheet not lying flat, a copy of a copy."""
    feed: float = 0.0
    """Uneven feed: the vertical scale grows from 1 at the top to 1 + feed at the bottom."""
    cut: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Strips lost at the left, top, right and bottom edges, in output pixels (a copy with a
    margin cut off): they come out as bare paper, with whatever was printed there."""
    quarter_turns: int = 0
    """The sheet fed turned by this many quarter turns clockwise (on top of `upside_down`)."""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["shift"] = list(self.shift)
        data["dark_border"] = list(self.dark_border)
        data["perspective"] = list(self.perspective)
        data["cut"] = list(self.cut)
        return data

    @property
    def orientation(self) -> int:
        """Degrees the scan must be turned clockwise to stand upright (180: upside down)."""
        return -(90 * self.quarter_turns + (180 if self.upside_down else 0)) % 360


def random_effects(
    rng: random.Random,
    strength: float = 1.0,
    *,
    dpi: int | None = None,
    color_mode: ColorMode | None = None,
    upside_down_rate: float = 0.05,
    jpeg: bool | None = None,
    dark_border_rate: float = 0.15,
) -> ScanEffects:
    """Effects drawn at `strength` (0 clean … 1 typical office scanner … 1.5 poor).

    `dpi`, `color_mode` fix those choices (a document is scanned with one setting);
    `jpeg` forces (True) or forbids (False) the JPEG round trip."""
    s = max(0.0, strength)
    mode: ColorMode = color_mode or rng.choices(("rgb", "gray", "bw"), weights=(0.45, 0.4, 0.15))[0]
    use_jpeg = jpeg if jpeg is not None else rng.random() < 0.5
    quality = None
    if use_jpeg and mode != "bw":
        quality = round(95 - rng.uniform(0, 35) * min(1.0, s))
    return ScanEffects(
        dpi=dpi or rng.choice((200, 240, 300, 300)),
        rotation=max(-3.0, min(3.0, rng.gauss(0, 1.1 * s))),
        shift=(rng.gauss(0, 12 * s), rng.gauss(0, 12 * s)),
        scale=1 + max(-0.02, min(0.02, rng.gauss(0, 0.007 * s))),
        blur=rng.uniform(0.0, 1.0) * s,
        noise=rng.uniform(1.0, 6.0) * s,
        illumination=rng.uniform(0.0, 0.6) * s,
        paper_tone=rng.uniform(0.0, 0.7) * s,
        jpeg_quality=quality,
        color_mode=mode,
        bw_threshold=rng.randint(150, 180),
        upside_down=rng.random() < upside_down_rate,
        dark_border=_random_dark_border(rng, dark_border_rate),
    )


def _random_dark_border(rng: random.Random, rate: float) -> tuple[int, int, int, int]:
    """One or two edges of a scan, now and then, with a dark band 10–60 px wide."""
    if rng.random() >= rate:
        return (0, 0, 0, 0)
    edges = rng.sample(range(4), rng.choice((1, 2)))
    left, top, right, bottom = (rng.randint(10, 60) if e in edges else 0 for e in range(4))
    return (left, top, right, bottom)


def _np_rng(rng: np.random.Generator | random.Random) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng.getrandbits(64))


def scan(
    page: Image.Image,
    effects: ScanEffects,
    rng: np.random.Generator | random.Random,
    *,
    source_dpi: int = TEMPLATE_DPI,
) -> Image.Image:
    """The scan of `page` (drawn at `source_dpi`) with `effects`; deterministic per rng state.

    The pixel work runs in OpenCV on uint8 arrays (a 300 dpi A4 page in well under 0.2 s)."""
    gen = _np_rng(rng)
    # Grey and 1-bit scans are processed in grey from the start: three times cheaper.
    colour = effects.color_mode == "rgb"
    pixels = np.asarray(page.convert("RGB" if colour else "L"))
    factor = effects.dpi / source_dpi
    size = (round(page.width * factor), round(page.height * factor))
    tone = _paper_colour(effects.paper_tone)
    paper = tone if colour else (_grey(tone),) * 3
    pixels = _geometry(pixels, size, effects, paper)
    if any(effects.cut):
        pixels = _cut(pixels, effects.cut, paper)
    if any(effects.dark_border):
        pixels = _dark_border(pixels, effects.dark_border)
    if effects.illumination > 0 or tone != (255, 255, 255):
        light = _light(size, effects.illumination, gen)
        pixels = _times_paper(pixels, light, tone if colour else (_grey(tone),))
    if effects.blur > 0:
        pixels = cv2.GaussianBlur(pixels, (0, 0), effects.blur)
    if effects.noise > 0:
        pixels = _add_noise(pixels, effects.noise, gen)
    image = Image.fromarray(pixels, mode="RGB" if colour else "L")
    if effects.color_mode == "bw":
        threshold = effects.bw_threshold
        image = image.point(lambda v: 255 if v >= threshold else 0, mode="1")
    elif effects.jpeg_quality is not None:
        image = jpeg_round_trip(image, effects.jpeg_quality)
    if effects.upside_down:
        image = image.transpose(Image.Transpose.ROTATE_180)
    if effects.quarter_turns % 4:
        image = image.rotate(-90 * (effects.quarter_turns % 4), expand=True)
    image.info = {"dpi": (effects.dpi, effects.dpi)}
    return image


def _dark_border(pixels: np.ndarray, widths: tuple[int, int, int, int]) -> np.ndarray:
    left, top, right, bottom = widths
    height, width = pixels.shape[:2]
    shaded = pixels.copy()
    for band in (
        (slice(None), slice(0, left)),
        (slice(0, top), slice(None)),
        (slice(None), slice(width - right, width)),
        (slice(height - bottom, height), slice(None)),
    ):
        shaded[band] = 35
    return shaded


def _grey(colour: tuple[int, int, int]) -> int:
    r, g, b = colour
    return round(0.299 * r + 0.587 * g + 0.114 * b)


def _paper_colour(paper_tone: float) -> tuple[int, int, int]:
    t = max(0.0, min(1.0, paper_tone))
    return (round(255 - 7 * t), round(255 - 9 * t), round(255 - 18 * t))


def _geometry(
    pixels: np.ndarray,
    size: tuple[int, int],
    effects: ScanEffects,
    paper: tuple[int, ...],
) -> np.ndarray:
    """Resample to the output dpi (area filter), then skew, shift, zoom and perspective in
    one pass, then the uneven feed."""
    if (pixels.shape[1], pixels.shape[0]) != size:
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    flat = not any(effects.perspective) and effects.feed == 0
    if flat and effects.rotation == 0 and effects.shift == (0.0, 0.0) and effects.scale == 1.0:
        return pixels
    cx, cy = size[0] / 2, size[1] / 2
    # forward: rotate by `rotation` (counter-clockwise on the page) and zoom about the
    # centre, then shift, then move the corners (perspective)
    matrix = np.vstack(
        [cv2.getRotationMatrix2D((cx, cy), effects.rotation, effects.scale), [0, 0, 1]]
    )
    matrix[:2, 2] += np.asarray(effects.shift, dtype=np.float64)
    border = tuple(float(v) for v in paper)
    if any(effects.perspective):
        w, h = size
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float32)
        offsets = np.array(effects.perspective, np.float32).reshape(4, 2) * np.array(
            [w, h], np.float32
        )
        matrix = cv2.getPerspectiveTransform(corners, corners + offsets) @ matrix
    pixels = cv2.warpPerspective(
        pixels,
        matrix,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    if not effects.feed:
        return pixels
    # the feed: a row at y (output) shows the sheet's row y' with y = y' + feed·y'²/2h
    h = size[1]
    a = effects.feed / (2 * h)
    ys = np.arange(h, dtype=np.float64)
    source = (-1 + np.sqrt(1 + 4 * a * ys)) / (2 * a)  # y' for each y
    map_y = np.repeat(source.astype(np.float32)[:, None], size[0], axis=1)
    map_x = np.repeat(np.arange(size[0], dtype=np.float32)[None, :], h, axis=0)
    return cv2.remap(
        pixels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )


def _cut(
    pixels: np.ndarray, widths: tuple[int, int, int, int], paper: tuple[int, ...]
) -> np.ndarray:
    left, top, right, bottom = widths
    height, width = pixels.shape[:2]
    cut = pixels.copy()
    fill = paper if cut.ndim == 3 else paper[0]
    cut[:, :left] = fill
    cut[:top, :] = fill
    cut[:, width - right :] = fill
    cut[height - bottom :, :] = fill
    return cut


def _light(size: tuple[int, int], strength: float, gen: np.random.Generator) -> np.ndarray:
    """A smooth illumination field in [0, 255] (255 = full light): a tilted gradient plus a
    few soft blotches."""
    grid_w, grid_h = 6, 8
    ys, xs = np.mgrid[0:grid_h, 0:grid_w].astype(np.float32)
    direction = gen.uniform(0, 2 * np.pi)
    gradient = np.cos(direction) * xs / grid_w + np.sin(direction) * ys / grid_h
    gradient -= gradient.min()
    field = gradient / max(float(gradient.max()), 1e-6) * 0.6 + gen.random((grid_h, grid_w)) * 0.4
    light = 255 * (1 - 0.25 * min(1.0, max(0.0, strength)) * field)
    # cubic to a coarse grid, then linear to full size: smooth, and cheap on uint8
    coarse = cv2.resize(
        light.astype(np.float32), (grid_w * 12, grid_h * 12), interpolation=cv2.INTER_CUBIC
    )
    coarse = np.clip(coarse, 0, 255).astype(np.uint8)
    return cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)


def _times_paper(pixels: np.ndarray, light: np.ndarray, tone: tuple[int, ...]) -> np.ndarray:
    """pixels · light · paper colour (all on the 0–255 scale)."""
    if pixels.ndim == 2:
        return cv2.multiply(pixels, light, scale=tone[0] / 255 / 255)
    channels = [
        cv2.multiply(np.ascontiguousarray(pixels[:, :, i]), light, scale=tone[i] / 255 / 255)
        for i in range(3)
    ]
    return cv2.merge(channels)


NOISE_TILE = 1024


def _add_noise(pixels: np.ndarray, sigma: float, gen: np.random.Generator) -> np.ndarray:
    """Gaussian sensor noise (luminance).

    The noise is a 1024² tile repeated at a random phase: the same statistics per pixel at a
    fraction of the cost of drawing a value for every pixel."""
    height, width = pixels.shape[:2]
    normal = gen.standard_normal((NOISE_TILE, NOISE_TILE), dtype=np.float32)
    tile = np.clip(normal * sigma + 128.0, 0, 255).astype(np.uint8)
    tile = np.roll(tile, (int(gen.integers(NOISE_TILE)), int(gen.integers(NOISE_TILE))), (0, 1))
    reps = (-(-height // NOISE_TILE), -(-width // NOISE_TILE))
    grain = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    if pixels.ndim == 3:
        grain = cv2.cvtColor(grain, cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(pixels, 1.0, grain, 1.0, -128.0)


def jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        return decoded.copy()


def blank_back_page(
    size: tuple[int, int],
    rng: np.random.Generator | random.Random,
    *,
    front: Image.Image | None = None,
    bleed: float = 0.06,
) -> Image.Image:
    """The back of a single-sided sheet at `size` (template dpi): paper texture and, if the
    front is given, a faint mirrored show-through of its ink; scan it with `scan` like a page."""
    gen = _np_rng(rng)
    w, h = size
    small = (max(1, w // 8), max(1, h // 8))
    fibres = gen.normal(0.0, 1.0, (small[1], small[0])).astype(np.float32)
    texture = Image.fromarray(np.clip(250 + fibres * 1.8, 0, 255).astype(np.uint8), mode="L")
    texture = texture.filter(ImageFilter.GaussianBlur(1.2)).resize(size, Image.Resampling.BICUBIC)
    if front is not None and bleed > 0:
        ghost = ImageOps.mirror(front.convert("L")).resize(small, Image.Resampling.BILINEAR)
        ghost = ghost.filter(ImageFilter.GaussianBlur(2.0)).resize(size, Image.Resampling.BICUBIC)
        # show-through: darkens the paper by `bleed` of the front's ink darkness
        keep = ghost.point(lambda v: 255 - round((255 - v) * min(0.3, bleed)))
        texture = ImageChops.multiply(texture, keep)
    return Image.merge("RGB", (texture, texture, texture))


MM_AT_300_DPI = 300 / 25.4
SCANNER_EFFECTS = (
    "office",
    "rotation",
    "quarter_turn",
    "scale",
    "perspective",
    "feed",
    "shift",
    "cut_margin",
    "dpi",
    "no_marks",
    "all",
)
"""Named effects of the widened corpus, each at up to the strength offices meet: one per
document, on top of the ordinary office scan ("office" adds nothing); "all" draws every one."""


def effect_dpi(name: str, rng: random.Random) -> int | None:
    """The resolution a document with this effect is scanned at (None: the usual choice)."""
    if name in ("dpi", "all"):
        return rng.choice((150, 600)) if name == "dpi" else rng.choice((150, 200, 300, 400, 600))
    return None


def with_effect(effects: ScanEffects, name: str, rng: random.Random) -> ScanEffects:
    """`effects` with the named scanner effect added, drawn across its whole range."""
    every = name == "all"
    mm = MM_AT_300_DPI * effects.dpi / TEMPLATE_DPI
    changes: dict[str, object] = {}
    if name == "rotation" or every:
        changes["rotation"] = rng.uniform(-5.0, 5.0)
    if name == "quarter_turn" or (every and rng.random() < 0.3):
        changes["quarter_turns"] = rng.choice((1, 3))
    if name == "scale" or every:
        changes["scale"] = rng.uniform(0.94, 1.03)
    if name == "perspective" or every:
        changes["perspective"] = tuple(rng.uniform(-0.015, 0.015) for _ in range(8))
    if name == "feed" or every:
        changes["feed"] = rng.uniform(-0.02, 0.02)
    if name == "shift" or every:
        angle, reach = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.0) * 10 * mm
        changes["shift"] = (reach * np.cos(angle), reach * np.sin(angle))
    if name == "cut_margin" or (every and rng.random() < 0.5):
        # a strip of 15–25 mm: the two corner marks along that edge are lost
        edge = rng.randrange(4)
        width = round(rng.uniform(15, 25) * mm)
        changes["cut"] = tuple(width if e == edge else 0 for e in range(4))
    return replace(effects, **changes)  # type: ignore[arg-type]
