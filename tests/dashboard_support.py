"""Shared helpers for the dashboard tests: a seeded SQLite template copied per test, AppTest factory."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from voxguard.bench.review_seed import SeedInfo, seed

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def make_template(folder: Path, n_clips: int = 60) -> SeedInfo:
    """Seed once per module; tests copy the file (seeding is the slow part)."""
    return seed(f"sqlite:///{folder / 'template.db'}", n_clips, audio_dir=folder / "audio", n_audio=n_clips)


def copy_db(template: SeedInfo, dest: Path) -> str:
    """A private copy of the seeded database; returns its URL."""
    src = Path(template.url.removeprefix("sqlite:///"))
    shutil.copy(src, dest / "dash.db")
    return f"sqlite:///{dest / 'dash.db'}"


def app_as(username: str | None, role: str = "reviewer", page: str | None = None) -> AppTest:
    """An AppTest of the dashboard, signed in as `username` (None: anonymous), optionally on `page`."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if username:
        at.session_state["user"] = {"username": username, "role": role, "via": "local"}
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    return at


def query(url: str, sql: str, **params: object) -> list[tuple]:
    """Rows of a raw SQL query against the test database (what the app wrote)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def chart_of(element) -> tuple[dict, dict[str, list[dict]]]:
    """An AppTest chart element's Vega-Lite spec and its named data sets as rows.

    Streamlit moves named data sets out of the spec into Arrow IPC bytes on the proto.
    """
    import json

    import pyarrow as pa

    spec = json.loads(element.proto.spec)
    data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in element.proto.datasets}
    return spec, data
