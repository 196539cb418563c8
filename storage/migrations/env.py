"""Alembic environment: the URL comes from the caller (storage.db.alembic_config)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

import storage.accounts
import storage.audit
import storage.audit_words
import storage.register_models  # noqa: F401  (their tables join Base.metadata for autogenerate)
from storage.models import Base

config = context.config
target_metadata = Base.metadata

connectable = engine_from_config(
    config.get_section(config.config_ini_section) or {},
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
