"""Database engine, sessions and migrations (Alembic, the same on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from schemas.errors import Unavailable
from schemas.i18n import _
from schemas.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True,
                                                          mode=0o700)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "connect", _remember_process)
    event.listen(engine, "checkout", _refuse_inherited)
    return engine


def _remember_process(_connection: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _refuse_inherited(_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection made before a fork (Celery's prefork pool) is the parent's socket:
    a child that used it would interleave with its siblings on one connection. The pool
    drops it and connects anew."""
    if record.info.get("pid") != os.getpid():
        record.dbapi_connection = proxy.dbapi_connection = None
        raise exc.DisconnectionError("connection made in another process")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # what is erased or rewritten (audit words, sealed reasons) is zeroed, not left in the
    # file's free pages for anyone holding a copy of it
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@lru_cache(maxsize=8)
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    session = _session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, settings: Settings | None = None) -> None:
    """Migrate to the newest revision. A migration that rewrites sealed or keyed rows opens
    the keys of `settings` (default: this process's settings) — only if it has rows to."""
    get_engine(url)  # creates the SQLite directory
    config = alembic_config(url)
    config.attributes["settings"] = settings
    command.upgrade(config, "head")


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: not created yet); one small query."""
    with get_engine(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_current(url: str, settings: Settings | None = None) -> None:
    """Make sure the database is at the newest revision before a command uses it. The
    embedded default (SQLite) creates or upgrades its own file, once; any other database
    is upgraded by its owner with `kura db upgrade` (the application role may not)."""
    if current_revision(url) == head_revision():
        return
    if not url.startswith("sqlite"):
        raise Unavailable(
            _("the database is not at this version of Kura"),
            hint=_("its owner runs `kura db upgrade` (once per new version)"),
        )
    upgrade(url, settings)


AUDIT_TABLES = ("audit_entry", "audit_object", "audit_checkpoint")


def grant_app_role(url: str, role: str) -> None:
    """Give the application's PostgreSQL role what it needs and no more: rows of Kura's
    tables, never their shape; the audit log it may only read and append to. Run by the
    migration user after every upgrade, so new tables are covered too."""
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return
    quoted = '"' + role.replace('"', '""') + '"'
    audit = ", ".join(AUDIT_TABLES)
    with engine.begin() as connection:
        for statement in (
            f"GRANT USAGE ON SCHEMA public TO {quoted}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
            f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {quoted}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {audit}, audit_head FROM {quoted}",
            f"GRANT UPDATE ON audit_head TO {quoted}",
        ):
            connection.execute(text(statement))
