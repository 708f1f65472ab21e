"""Which model a job uses: never a silent switch to the bundled model when the registry is down (issue 15)."""

from __future__ import annotations

import socket

import pytest

from jobs.model_source import RegistryUnavailable, production_artefact, resolve_model
from voxguard.cli import main
from voxguard.settings import Settings


@pytest.fixture
def down_url():
    """A PostgreSQL URL (with a password) where nothing listens: the server is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://voxguard:s3cret-pw@127.0.0.1:{port}/voxguard"


def _resolve(settings: Settings, explicit=None):  # type: ignore[no-untyped-def]
    return resolve_model(explicit, registry=settings.database_url, fallback=settings.model_path,
                         cache_dir=tmp_cache(settings))


def tmp_cache(settings: Settings):  # type: ignore[no-untyped-def]
    return settings.data_dir / "models-cache"


def test_an_unreadable_registry_is_an_error_not_the_bundled_model(down_url, tmp_path):
    settings = Settings.from_env(db_url=down_url, data_dir=tmp_path)
    with pytest.raises(RegistryUnavailable) as caught:
        production_artefact(settings.database_url)
    message = str(caught.value)
    assert "cannot read the model registry" in message and "127.0.0.1" in message
    assert "s3cret-pw" not in message and "\n" not in message
    # An explicit --model needs no registry at all.
    assert _resolve(settings, settings.model_path) == settings.model_path


def test_score_cli_fails_in_one_line_when_the_registry_is_down(down_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VOXGUARD_DB_URL", down_url)
    (tmp_path / "clips").mkdir()
    code = main(["score", str(tmp_path / "clips"), "--out", str(tmp_path / "out"), "--no-feedback"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("voxguard: error: cannot read the model registry") and "--model" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing was scored


def test_an_empty_registry_still_means_the_bundled_model(blank_db_url, tmp_path):
    settings = Settings.from_env(db_url=blank_db_url, data_dir=tmp_path)
    assert production_artefact(settings.database_url) is None  # reachable, never migrated: nothing registered
    assert _resolve(settings) == settings.model_path


def test_a_migrated_registry_without_production_means_the_bundled_model(db_url, tmp_path):
    assert production_artefact(Settings.from_env(db_url=db_url, data_dir=tmp_path).database_url) is None
