"""PostgreSQL for tests: reuse VOXGUARD_TEST_PG_URL, else start a private server.

The server is started with scripts/pg-test-server (the same script .ci/run uses).
Each test gets its own database cloned from a migrated template, which is much
faster than migrating every time.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-test-server"


def binaries_available() -> bool:
    """True when initdb/pg_ctl can be found the way the script looks for them."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"], "pg_ctl").exists()
    return bool(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or shutil.which("pg_ctl") is not None


def start(directory: Path) -> str:
    """Start a server with its state in `directory`; returns its SQLAlchemy URL."""
    out = subprocess.run([str(SCRIPT), "start", str(directory)], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def stop(directory: Path) -> None:
    """Stop the server started in `directory` and delete its data."""
    subprocess.run([str(SCRIPT), "stop", str(directory)], check=True, capture_output=True, text=True)


def _admin_engine(url: str):  # AUTOCOMMIT: CREATE/DROP DATABASE refuse to run in a transaction
    return create_engine(url, isolation_level="AUTOCOMMIT")


def create_database(server_url: str, template: str | None = None, prefix: str = "vgtest") -> str:
    """Create a fresh database on the server (optionally cloned from `template`); returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop a test database, disconnecting any leftover sessions."""
    name = make_url(url).database
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
