"""Shared fixtures. Database: `db_url` runs a test on SQLite and on PostgreSQL.

PostgreSQL comes from VOXGUARD_TEST_PG_URL (.ci/run starts one with
scripts/pg-test-server); without it a private server is started here, so the
PostgreSQL half never silently skips where the binaries exist.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works with or without tests/__init__.py
import pg_server  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep every test's local state (SQLite file, caches) out of the user data directory.

    Set in os.environ so CLI subprocesses and Ray workers inherit it; tests that
    need their own database still pass a URL explicitly.
    """
    saved = {k: os.environ.get(k) for k in ("VOXGUARD_DATA_DIR", "VOXGUARD_DB_URL")}
    os.environ["VOXGUARD_DATA_DIR"] = str(tmp_path_factory.mktemp("voxguard-var"))
    os.environ.pop("VOXGUARD_DB_URL", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _fresh_dashboard_context() -> Iterator[None]:
    """The dashboard reads its settings once per process (`dashboard.context`); tests run it
    in this process (AppTest) with their own environment each, so each test starts afresh."""
    _reset_dashboard_context()
    yield
    _reset_dashboard_context()


def _reset_dashboard_context() -> None:
    module = sys.modules.get("dashboard.context")  # only once a test has imported the dashboard
    if module is not None:
        module.reset()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server for the whole test session."""
    url = os.environ.get("VOXGUARD_TEST_PG_URL")
    if url:
        yield url
        return
    if not pg_server.binaries_available():
        pytest.skip("no PostgreSQL binaries (install postgresql or set VOXGUARD_TEST_PG_URL)")
    directory = tmp_path_factory.mktemp("pg")
    url = pg_server.start(directory)
    try:
        yield url
    finally:
        pg_server.stop(directory)


@pytest.fixture(scope="session")
def _migrated_templates() -> dict[str, str]:
    """Per backend: a migrated database that test databases are copied from."""
    return {}


def _template(kind: str, cache: dict[str, str], request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> str:
    from feedback.db import upgrade

    if kind not in cache:
        if kind == "sqlite":
            path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
            upgrade(f"sqlite:///{path}")
            cache[kind] = str(path)
        else:
            server = request.getfixturevalue("pg_server_url")
            url = pg_server.create_database(server, prefix="vgtemplate")
            upgrade(url)  # disposes its engine: a template must have no connections
            cache[kind] = url.rsplit("/", 1)[1]
    return cache[kind]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
           _migrated_templates: dict[str, str]) -> Iterator[str]:
    """URL of a fresh, fully migrated feedback database (SQLite file or PostgreSQL database)."""
    template = _template(request.param, _migrated_templates, request, tmp_path_factory)
    if request.param == "sqlite":
        path = tmp_path / "feedback.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("pg_server_url")
    url = pg_server.create_database(server, template=template)
    yield url
    pg_server.drop_database(server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    server = request.getfixturevalue("pg_server_url")
    url = pg_server.create_database(server)
    yield url
    pg_server.drop_database(server, url)
