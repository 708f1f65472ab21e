"""Alembic environment: runs the feedback migrations against `sqlalchemy.url`.

Uses our engine factory so SQLite gets the same pragmas as at run time, and our
metadata so `alembic revision --autogenerate` compares against the ORM models.

On PostgreSQL migrations are serialised with a session-level advisory lock:
scoring jobs and dashboards each run `upgrade()` at start, and Alembic does
not serialise concurrent upgrades itself (sqlalchemy/alembic#633), so on an
empty database all but one start died with `UniqueViolation`. The lock is
taken and committed before Alembic configures, so Alembic still runs its own
transaction (an open one would be treated as external and might roll back);
the waiting starts then find the database at head and do nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from feedback.db import make_engine
from feedback.models import Base

config = context.config
target_metadata = Base.metadata
# Advisory lock (MIGRATION_LOCK_KEY, hashtext(database)): one per database, not per server.
MIGRATION_LOCK_KEY = 0x766F7867  # "voxg"
LOCK = "SELECT pg_advisory_lock(:key, hashtext(current_database()))"
UNLOCK = "SELECT pg_advisory_unlock(:key, hashtext(current_database()))"


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
    given = config.attributes.get("engine")  # the caller's engine (one per command), left open
    engine = given if given is not None else make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            locking = connection.dialect.name == "postgresql"
            if locking:
                connection.execute(text(LOCK), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
            try:
                # render_as_batch: SQLite can only ALTER tables by copying them.
                context.configure(
                    connection=connection, target_metadata=target_metadata, render_as_batch=True
                )
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                if locking:  # also freed when the connection closes, should this fail
                    connection.rollback()
                    connection.execute(text(UNLOCK), {"key": MIGRATION_LOCK_KEY})
                    connection.commit()
    finally:
        if given is None:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
