"""Building the CLI parser imports nothing heavy, so `voxguard --help` answers at once.

Each command module's `register` only declares arguments; torch, Ray, Streamlit,
SQLAlchemy and friends are imported inside the handlers. This is checked by
what is imported (a fresh interpreter), not by timing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from voxguard.settings import REPO_ROOT

HEAVY = ("torch", "ray", "streamlit", "sqlalchemy", "pandas", "numpy", "pyarrow", "scipy", "boto3", "alembic")


def test_building_the_parser_imports_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "from voxguard.cli import build_parser\n"
        "build_parser().format_help()\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_train_defaults_match_the_job_config() -> None:
    """`voxguard train` writes its defaults out (no torch import); they must stay the job's."""
    from jobs.train.config import TrainJobConfig
    from voxguard.commands.train import DEFAULTS

    job = {f.name: f.default for f in dataclasses.fields(TrainJobConfig)}
    assert {name: job[name] for name in DEFAULTS} == DEFAULTS


def test_dashboard_port_default_matches_the_head() -> None:
    from cluster import head
    from voxguard.commands import cluster

    assert cluster.DEFAULT_DASHBOARD_PORT == head.DEFAULT_DASHBOARD_PORT
