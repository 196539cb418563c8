"""Where the key-encryption key comes from: configuration, or (embedded default only) a key
file created once in the data directory with owner-only permissions."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from storage.crypto import Kek


def kek_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "kek.b64"


@lru_cache(maxsize=8)
def load_kek(configured: str, data_dir: Path) -> Kek:
    if configured:
        return Kek.from_base64(configured)
    path = kek_file(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Kek.generate().to_base64())
    return Kek.from_base64(path.read_text())
