"""The dashboard is wired like a command: settings read once, one database engine per process.

Several reviewers' sessions and pages (queue, jobs, models, a refused job launch)
run in this process (AppTest), which counts how often the settings are read from the
environment and how many engines are created: once and one.
"""

from __future__ import annotations

import pytest

import feedback.db
from dashboard_support import app_as, copy_db, make_template
from voxguard.settings import Settings


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("dash-context"), n_clips=12)


@pytest.fixture
def db_url(template, tmp_path, monkeypatch):
    url = copy_db(template, tmp_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(tmp_path / "audio"))
    return url


@pytest.fixture
def counts(monkeypatch):
    """Settings reads and engine creations made in this process from now on."""
    seen = {"settings": 0, "engines": 0}
    real_from_env, real_create = Settings.from_env.__func__, feedback.db.create_engine

    def from_env(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen["settings"] += 1
        return real_from_env(cls, *args, **kwargs)

    def create_engine(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["engines"] += 1
        return real_create(*args, **kwargs)

    monkeypatch.setattr(Settings, "from_env", classmethod(from_env))
    monkeypatch.setattr(feedback.db, "create_engine", create_engine)
    return seen


def test_one_settings_read_and_one_engine_for_every_session_and_page(db_url, tmp_path, counts):
    alice = app_as("alice")
    assert not alice.exception and alice.session_state["q_current"]
    alice.button(key="verdict_spoof").click().run()
    assert not alice.exception
    for page in ("jobs", "models", "retraining", "reviewers"):
        alice.switch_page(f"pages/{page}.py").run()
        assert not alice.exception, page

    olga = app_as("olga", role="operator", page="jobs")  # a second session
    form = {t.label: t for t in olga.text_input}
    form["Source"].input(str(tmp_path / "elsewhere"))  # outside the source roots: refused after the role check
    olga.button(key="FormSubmitter:submit_job-Submit").click().run()
    assert not olga.exception and "outside the allowed locations" in olga.error[0].value

    assert counts == {"settings": 1, "engines": 1}
