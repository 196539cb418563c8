"""Settings from environment variables (KURA_*); see .env.example.

A leaf module: it imports nothing of Kura, so every folder may read its settings here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.i18n import _


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KURA_", env_file=None, extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default=Path.home() / ".local" / "share" / "kura",
        description="Everything of the embedded default lives here: database, objects, keys.",
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means a SQLite file in data_dir."
    )
    broker_url: str = Field(
        default="", description="Celery broker (redis://...); empty means the in-process runner."
    )
    s3_endpoint: str = Field(default="", description="host:port of the S3 server; empty = files.")
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "kura-originals"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    kek: str = Field(
        default="",
        description="Key-encryption key, 32 bytes base64. Empty: the key file in key_dir "
        "(embedded default only; made with the installation, never replaced).",
    )
    kek_previous: str = Field(
        default="",
        description="Earlier key-encryption keys, still needed to unwrap data keys until "
        "`kura keys rotate` has re-wrapped everything: base64 keys separated by commas. "
        "Remove one once `kura keys retire` has accepted it.",
    )
    index_key: str = Field(
        default="",
        description="Blind-index key (HMAC-SHA256 for exact-match search), 32 bytes base64, "
        "never the same as a KEK. Empty: a key file in key_dir (embedded default only).",
    )
    key_dir: Path | None = Field(
        default=None,
        description="Where the embedded default keeps its keys and its audit anchor (signed "
        "checkpoints), apart from the data: put it on another disk. Empty: a folder beside "
        "data_dir named '<data_dir>-keys'.",
    )
    retention: str = Field(
        default="",
        description="Retention per document class, e.g. 'qualification=10y,exemption=3650d,"
        "*=keep'. Periods in years (y) or days (d), counted from the 受付 date; 'keep' and any "
        "class not listed mean keep indefinitely (the default).",
    )
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description="S3 Object Lock mode for originals' retention: GOVERNANCE (tests, trials) "
        "or COMPLIANCE (production: nobody, root included, can shorten or lift it).",
    )
    municipality_code: str = Field(
        default="000000",
        description="The office's 全国地方公共団体コード (6 digits): 受付番号 are counted per "
        "municipality and fiscal year.",
    )
    office: str = Field(
        default="",
        description="The office that receives the paper and sends it on (e.g. 青葉区 保険年金課): "
        "written in the register and as the sender of every 送付書.",
    )
    offices: str = Field(
        default="",
        description="Where offices share one installation, each municipality's office, e.g. "
        "'011002=札幌市 保険年金課,012025=江別市 国保年金課': the sender of the 送付書 a person "
        "bound to that municipality releases. Not listed: KURA_OFFICE for the installation's "
        "own municipality, the 全国地方公共団体コード for another.",
    )
    jps_addressee: str = Field(
        default="日本年金機構 年金事務所",
        description="Where 進達 batches go (the 送付書's addressee), e.g. "
        "日本年金機構 仙台東年金事務所.",
    )
    result_overdue_days: int = Field(
        default=60,
        description="Days after its 進達 an item without a result is reported overdue.",
    )
    page_soft_time_limit_s: int = Field(
        default=240, description="A page still being read after this long is stopped and "
        "marked failed (time_limit) so its file goes on.")
    page_time_limit_s: int = Field(
        default=300, description="A worker process still on one page after this long is "
        "killed and replaced; the page is read again elsewhere.")
    sweep_after_s: int = Field(
        default=600, description="A page left pending this long after it was sent or started "
        "(a lost message, a dead worker or command) is sent again by the sweeper.")
    sweep_every_s: int = Field(
        default=60, description="How often `kura worker --beat` runs the sweeper.")
    log_level: str = "INFO"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # --- people and the audit chain (storage.accounts, storage.audit) ---
    audit_key: str = Field(
        default="",
        description="Audit checkpoint signing key (HMAC-SHA256), 32+ bytes base64, held apart "
        "from the KEK. Empty: a key file in key_dir (embedded default only).",
    )
    audit_checkpoint_every: int = Field(
        default=100, description="Write a signed checkpoint of the audit chain every N entries "
        "of the pipeline's own work (every person's operation is anchored at once)."
    )
    audit_checkpoint_seconds: int = Field(
        default=60, description="Write one at least this often (seconds) while entries are "
        "appended."
    )
    audit_bucket: str = Field(
        default="", description="S3 bucket for audit checkpoints; empty = '<s3_bucket>-audit'."
    )
    audit_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description="Object Lock mode of audit checkpoints (COMPLIANCE for production).",
    )
    audit_lock_days: int = Field(
        default=3650, description="Object Lock retention of each audit checkpoint, in days."
    )
    session_minutes: int = Field(
        default=60, description="How long a `kura login` session lasts."
    )
    session_file: str = Field(
        default="",
        description="Where `kura login` keeps the session token (mode 0600); empty = "
        "data_dir/session. Set it to a path in the person's home on shared machines.",
    )
    server_url: str = Field(
        default="",
        description="The Kura server a clerk's `kura` talks to (https://kura.example/): the "
        "records commands then call it with the signed-in session, and this machine holds "
        "no key and no database credentials. Empty: the commands work beside the keys.",
    )
    server_timeout_s: float = Field(
        default=300, description="How long `kura` waits for the server's answer (seconds).")
    login_max_failures: int = Field(
        default=5, description="Wrong passwords in a row before the account locks for a while."
    )
    login_lockout_minutes: int = 15
    signin_per_minute: int = Field(
        default=10, description="Sign-in attempts one address may make a minute (the rooms "
        "and the API): raise it where a whole office reaches the server through one proxy."
    )
    idle_minutes: float = Field(
        default=5, description="The rooms lock a screen left alone this long (control 58): "
        "personal data is hidden until the person signs in again."
    )
    lang: str = Field(
        default="ja", description="Language of the rooms: ja (default) or en; each person "
        "may choose their own in the rooms."
    )
    db_app_role: str = Field(
        default="",
        description="PostgreSQL role the application runs as (least privilege); `kura db "
        "upgrade` grants it rows but not schema, and only reading and appending on the audit "
        "tables. Empty: not managed.",
    )

    # --- the hot folder (workers/watch.py, `kura watch`) ---
    watch_dir: str = Field(
        default="", description="The hot folder scanners write into; empty: no hot folder.")
    watch_archive_dir: str = Field(
        default="",
        description="Where a file goes once its sealed original is stored and registered; "
        "empty: the file is removed.")
    watch_quarantine_dir: str = Field(
        default="",
        description="Where a file Kura refused goes, with a .reason.txt beside it; empty: "
        "'<watch_dir>-quarantine'. Input, archive and quarantine must not overlap.")
    watch_settle_seconds: float = Field(
        default=5.0,
        description="A file is taken once its size and modification time have not changed "
        "for this long (a scanner may still be writing it).")
    watch_poll: bool = Field(
        default=False,
        description="Look at the folder every watch_poll_seconds instead of waiting for the "
        "system's change events (network shares: SMB, NFS, send no events).")
    watch_poll_seconds: float = 2.0
    log_json: bool = Field(
        default=False, description="Logs as JSON lines (ids and codes only).")

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'kura.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.key_dir or self.data_dir.with_name(f"{self.data_dir.name}-keys")

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def uses_celery(self) -> bool:
        return bool(self.broker_url)

    @field_validator("offices")
    @classmethod
    def _offices_are_code_and_name(cls, offices: str) -> str:
        for pair in filter(str.strip, offices.split(",")):
            code, sep, name = pair.partition("=")
            if not (sep and len(code.strip()) == 6 and code.strip().isdigit() and name.strip()):
                raise ValueError(_("{pair!r} is not CODE=office (a 6-digit 全国地方公共団体コード, "
                                   "'=', the office's name)").format(pair=pair.strip()))
        return offices

    def office_of(self, municipality: str) -> str:
        """The office that sends on what `municipality` received: its own in KURA_OFFICES,
        else KURA_OFFICE for the installation's municipality, else '' (none known)."""
        for pair in filter(str.strip, self.offices.split(",")):
            code, _sep, name = pair.partition("=")
            if code.strip() == municipality:
                return name.strip()
        return self.office if municipality == self.municipality_code else ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
