"""Settings from environment variables (KURA_*); see .env.example.

A leaf module: it imports nothing of Kura, so every folder may read its settings here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        description="Key-encryption key, 32 bytes base64. Empty: a key file in data_dir "
        "is created on first use (embedded default only).",
    )
    log_level: str = "INFO"
    web_host: str = "127.0.0.1"
    web_port: int = 8080

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'kura.db'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def uses_celery(self) -> bool:
        return bool(self.broker_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()
