"""The dashboard's entry point to its configuration: one `CommandContext` per server process.

Why: the dashboard is a command like `voxguard score`, so it gets its settings,
storage options and database engine the same way: a `voxguard.context.CommandContext`
built once, here, and handed to the pages through `settings()`, `db()` and `sessions()`.
Before, `settings()` re-read the environment on every call and the launcher opened an
engine of its own for each job.

The database URL comes from `st.secrets["db_url"]` when set, else from the usual
settings (`VOXGUARD_DB_URL`, else SQLite under the data dir); `voxguard dashboard
--db-url` passes it through the environment. This is the one module of the
dashboard that reads `voxguard.settings` (the import-linter contract `settings-leaf`
names it as the entry point's exception).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from feedback.db import session_scope
from voxguard.context import CommandContext
from voxguard.settings import Settings


def secret(name: str, default: Any = None) -> Any:
    """A top-level secret, or `default` when there is no secrets file or no such key."""
    try:
        return st.secrets.get(name, default)
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning empty
        return default


def _release(context: CommandContext) -> None:
    context.close()  # dispose of the engine's pool when the cache lets the context go


@st.cache_resource(show_spinner=False, on_release=_release)
def _context(db_url: str | None) -> CommandContext:
    # Once per server process (per secrets' db_url): the settings are read here only, and the
    # one engine (and pool) is created now, under Streamlit's cache lock, shared by all sessions.
    context = CommandContext(Settings.from_env(db_url=db_url))
    context.sessions  # noqa: B018 - build the engine and its session factory now
    return context


def context() -> CommandContext:
    """The dashboard process's context (settings, storage options, engine)."""
    return _context(secret("db_url") or None)


def reset() -> None:
    """Forget the process's context and dispose of its engine: the next page run reads the
    settings again. A server never needs this; tests that change the environment do."""
    _context.clear()


def settings() -> Settings:
    """The dashboard's settings, read once per process."""
    return context().settings


def db_url() -> str:
    """The SQLAlchemy URL of the feedback database the dashboard works on."""
    return context().database_url


def sessions() -> sessionmaker[Session]:
    """The session factory on the dashboard's one engine (for helpers that open their own sessions)."""
    return context().sessions


@contextmanager
def db() -> Iterator[Session]:
    """A session on the dashboard's database: commits on success, rolls back on error."""
    with session_scope(context().sessions) as session:
        yield session
