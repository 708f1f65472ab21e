"""Where local state and the bundled model are found: not the source tree, not the cwd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs

from voxguard import locations
from voxguard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_local_state_defaults_to_the_user_data_directory():
    settings = Settings.from_env({})
    assert settings.data_dir == Path(platformdirs.user_data_dir("voxguard", appauthor=False))
    assert not str(settings.data_dir).startswith(str(ROOT))
    assert settings.database_url == f"sqlite:///{settings.data_dir / 'voxguard.db'}"
    # Configured wins.
    assert Settings.from_env({"VOXGUARD_DATA_DIR": "/srv/vg"}).data_dir == Path("/srv/vg")


def test_the_bundled_model_is_found_from_the_package_whatever_the_cwd(tmp_path):
    assert Settings.from_env({}).model_path == ROOT / "models" / "voxguard-default.vxpkg"
    code = "from voxguard.settings import Settings; s = Settings.from_env({}); print(s.model_path.is_file())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.strip() == "True"


def test_an_installed_wheel_finds_its_model_in_the_installed_data(tmp_path, monkeypatch):
    """A wheel has no models/ beside the packages: the model is data under <prefix>/share/voxguard/models."""
    installed = tmp_path / "prefix" / "share" / "voxguard" / "models" / "voxguard-default.vxpkg"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"x")
    monkeypatch.setattr(locations, "source_root", lambda: tmp_path / "site-packages")
    monkeypatch.setattr(locations.sysconfig, "get_path", lambda name: str(tmp_path / "prefix"))
    assert locations.bundled_model_path() == installed


def test_the_wheel_declares_the_model_as_data():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["data-files"]["share/voxguard/models"]
    assert data == ["models/voxguard-default.vxpkg"] and (ROOT / data[0]).is_file()
