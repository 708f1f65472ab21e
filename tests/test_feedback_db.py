"""Migrations and engine setup on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from feedback.db import current_revision, make_engine, session_factory, upgrade
from feedback.models import Base, RetrainPolicy


def test_upgrade_creates_schema_and_is_repeatable(blank_db_url: str) -> None:
    assert current_revision(blank_db_url) is None
    upgrade(blank_db_url)
    upgrade(blank_db_url)  # second run is a no-op, not an error
    assert current_revision(blank_db_url) == "0002"
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


def test_concurrent_first_migrations_on_postgresql_wait_for_each_other(pg_server_url: str) -> None:
    """Starts that migrate an empty database at once queue on an advisory lock; all succeed (issue 15)."""
    import os
    import subprocess
    import sys
    import time

    import pg_server

    url = pg_server.create_database(pg_server_url)
    holder = make_engine(url)
    lock_args = {"key": 0x766F7867}
    try:
        with holder.connect() as conn:
            # Hold the migration lock ourselves: every start must then wait on it, not race.
            conn.execute(text("SELECT pg_advisory_lock(:key, hashtext(current_database()))"), lock_args)
            procs = [subprocess.Popen([sys.executable, "-c", "import sys; from feedback.db import upgrade; "
                                       "upgrade(sys.argv[1])", url], env=dict(os.environ),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
            deadline = time.monotonic() + 120
            waiting = 0
            while waiting < 4 and time.monotonic() < deadline and all(p.poll() is None for p in procs):
                time.sleep(0.2)
                waiting = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                            "AND NOT granted")).scalar()
                conn.commit()
            assert waiting == 4, [p.communicate()[0] for p in procs if p.poll() is not None]
            assert current_revision(url) is None  # nobody migrated past the lock
            conn.execute(text("SELECT pg_advisory_unlock(:key, hashtext(current_database()))"), lock_args)
            conn.commit()
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
        assert current_revision(url) == "0002"
    finally:
        holder.dispose()
        pg_server.drop_database(pg_server_url, url)
