"""Engine and session factory for the feedback database, and programmatic migrations.

SQLite (the default, a file under the data dir) gets WAL journaling, foreign keys,
a busy timeout and `BEGIN IMMEDIATE` transactions: with deferred transactions a
read-then-write transaction fails at once with SQLITE_BUSY when another writer
committed meanwhile, whereas IMMEDIATE makes writers queue on the busy timeout.
PostgreSQL is used as is (READ COMMITTED); code that must not lose updates uses
compare-and-set UPDATEs, which are correct under both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for `url`, SQLite tuned for concurrency.

    The URL is the caller's (the command's settings): this library reads no configuration.

    SQLite write transactions lock the file until they end, so keep sessions short.
    `read_only=True` (e.g. dashboard pages) uses plain deferred transactions that
    never block writers and refuses writes (on PostgreSQL: read-only transactions).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        if read_only:
            kwargs.setdefault("execution_options", {}).setdefault("postgresql_readonly", True)
        return create_engine(url, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def session_factory(url_or_engine: str | Engine, read_only: bool = False) -> sessionmaker[Session]:
    """A `sessionmaker` bound to an engine (built from a URL if needed)."""
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine, read_only)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error, always close."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str | Engine) -> Any:
    """Alembic `Config` pointing at the bundled migrations; works from an installed wheel.

    Given an engine, the migrations run on it (`attributes["engine"]`, read by env.py)
    instead of a second engine built from the URL.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(url, Engine):
        cfg.attributes["engine"] = url
        url = url.url.render_as_string(hide_password=False)
    # '%' is special in ConfigParser values (passwords may contain it).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Create or migrate the database at `url` (or on an engine) to `revision` (default: latest)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
