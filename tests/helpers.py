"""Running the real `kura` command and reading what it stored, for end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kura.settings import Settings

KURA = [sys.executable, "-m", "kura"]


def kura_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env.update({f"KURA_{k.upper()}": v for k, v in settings.items()})
    return env


def run_kura(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([*KURA, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"kura {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def settings_from(env: dict[str, str]) -> Settings:
    return Settings(**{k.removeprefix("KURA_").lower(): v for k, v in env.items()
                       if k.startswith("KURA_")})


def truth_of(scan: Path) -> dict[str, Any]:
    return json.loads((scan.parent / f"{scan.stem}.truth.json").read_text(encoding="utf-8"))
