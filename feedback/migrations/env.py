"""Alembic environment: runs the feedback migrations against `sqlalchemy.url`.

Uses our engine factory so SQLite gets the same pragmas as at run time, and our
metadata so `alembic revision --autogenerate` compares against the ORM models.
"""

from __future__ import annotations

from alembic import context

from feedback.db import make_engine
from feedback.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    """Emit SQL to stdout (alembic upgrade --sql)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate a live database inside one transaction."""
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            # render_as_batch: SQLite can only ALTER tables by copying them.
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
