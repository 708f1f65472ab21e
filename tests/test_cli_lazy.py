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


def test_train_operating_point_flags_reach_the_job(capsys) -> None:  # noqa: ANN001 - pytest fixture
    """`--operating-point frr --target-frr X` reaches the job; a target outside [0, 1) is one argparse line."""
    import pytest

    from voxguard.cli import build_parser
    from voxguard.commands.train import job_config
    from voxguard.settings import Settings

    base = ["train", "--manifest", "unused.parquet", "--out", "unused.vxpkg", "--devset", "absent"]
    config = job_config(build_parser().parse_args([*base, "--operating-point", "frr", "--target-frr", "0.1"]),
                        Settings.from_env())
    assert (config.operating_point, config.target_frr) == ("frr", 0.1)
    from siamese.calibration import OPERATING_METHODS  # the parser spells the rules out (no numpy import)

    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    (rule_flag,) = [a for a in train_parser._actions if "--operating-point" in a.option_strings]
    assert tuple(rule_flag.choices) == OPERATING_METHODS
    assert job_config(build_parser().parse_args(base), Settings.from_env()).operating_point == "cost"
    for bad, why in (("1.5", "must be at least 0 and below 1"), ("ten", "not a number")):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*base, "--target-frr", bad])
        assert why in capsys.readouterr().err
