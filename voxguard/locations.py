"""Where voxguard's own files are, found from the installed package, never from the cwd.

A leaf module (standard library and platformdirs only), so any layer may ask:

- `default_data_dir()`: the user data directory (`platformdirs`, e.g.
  `~/.local/share/voxguard` on Linux) where local state goes unless
  `VOXGUARD_DATA_DIR` says otherwise. Why not the source tree: an installed wheel
  has no writable source tree, and two checkouts should share one local database.
- `bundled_model_path()`: the model shipped with voxguard. In a checkout (or an
  editable install) it is `models/voxguard-default.vxpkg` beside the packages; a
  wheel installs it as data under `<prefix>/share/voxguard/models/` (see
  `[tool.setuptools.data-files]` in pyproject.toml).
- `source_root()`: the folder holding the importable packages (what a Ray job ships).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

APP_NAME = "voxguard"
BUNDLED_MODEL_NAME = "voxguard-default.vxpkg"


def source_root() -> Path:
    """The folder that holds the `voxguard`, `siamese`, `jobs`... packages (a checkout's root)."""
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The per-user data directory for local state (SQLite database, caches, job records)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def bundled_model_path() -> Path:
    """The bundled model package: beside the packages in a checkout, else the wheel's installed data."""
    checkout = source_root() / "models" / BUNDLED_MODEL_NAME
    if checkout.is_file():
        return checkout
    installed = Path(sysconfig.get_path("data")) / "share" / APP_NAME / "models" / BUNDLED_MODEL_NAME
    return installed if installed.is_file() else checkout


def bundled_examples() -> Path:
    """The sample clips of a checkout (`examples/`); absent from a wheel."""
    return source_root() / "examples"
