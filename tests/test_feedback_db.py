"""Migrations and engine setup on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from feedback.db import current_revision, make_engine, session_factory, upgrade
from feedback.models import Base, RetrainPolicy


def test_upgrade_creates_schema_and_is_repeatable(blank_db_url: str) -> None:
    assert current_revision(blank_db_url) is None
    upgrade(blank_db_url)
    upgrade(blank_db_url)  # second run is a no-op, not an error
    assert current_revision(blank_db_url) == "0001"
    engine = make_engine(blank_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with session_factory(engine)() as s:
            policy = s.get(RetrainPolicy, 1)
            assert policy is not None and policy.min_mismatches == 20 and policy.required_agreement == 1
    finally:
        engine.dispose()


def test_migration_matches_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migration and the ORM models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
