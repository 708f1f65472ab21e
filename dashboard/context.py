"""Where the dashboard gets its database and settings from, cached per process.

The database URL comes from `st.secrets["db_url"]` when set, else from the
usual settings (`VOXGUARD_DB_URL`, else SQLite under the data dir); the
`voxguard dashboard --db-url` command passes it through the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from feedback.db import session_factory, session_scope
from voxguard.settings import Settings


def secret(name: str, default: Any = None) -> Any:
    """A top-level secret, or `default` when there is no secrets file or no such key."""
    try:
        return st.secrets.get(name, default)
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning empty
        return default


def settings() -> Settings:
    """Runtime settings (environment), with the secrets' db_url taking precedence."""
    url = secret("db_url")
    return Settings.from_env(db_url=url) if url else Settings.from_env()


def db_url() -> str:
    """The SQLAlchemy URL of the feedback database the dashboard works on."""
    return settings().database_url


@st.cache_resource(show_spinner=False)
def _factory(url: str) -> sessionmaker[Session]:
    # One engine (and pool) per URL for the whole server process, shared by all sessions.
    return session_factory(url)


@contextmanager
def db() -> Iterator[Session]:
    """A session on the dashboard's database: commits on success, rolls back on error."""
    with session_scope(_factory(db_url())) as session:
        yield session
