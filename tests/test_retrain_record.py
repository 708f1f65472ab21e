"""The retraining job records its challenger in one transaction (`jobs.retrain.job.record_challenger`).

A failure while promoting (injected at the registry's `on_step` hook, after the old production row was
retired) must leave nothing half-done: no candidate row for the challenger, the champion still
production. Without the failure, registration and promotion are both committed. SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from train_tiny import tiny_model_config

from feedback import registry
from feedback.db import session_factory, session_scope
from jobs.retrain.job import record_challenger
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage
from siamese.training import calibrate


def _package(seed: int) -> ModelPackage:
    """An untrained tiny package (its version is a hash of its weights: distinct per seed)."""
    import torch

    torch.manual_seed(seed)
    network = SiameseNetwork(tiny_model_config())
    rng = np.random.default_rng(seed)
    calibration, point = calibrate(np.r_[rng.normal(1, 1, 20), rng.normal(-1, 1, 20)], np.r_[np.ones(20), np.zeros(20)])
    return ModelPackage(config=network.config, state_dict={k: v.detach() for k, v in network.state_dict().items()},
                        calibration=calibration, operating_point=point)


class Crash(RuntimeError):
    """The injected failure."""


def _status(factory, version: str) -> str | None:  # noqa: ANN001
    with session_scope(factory) as session:
        row = registry.get_version(session, version)
        return row.status if row is not None else None


@pytest.mark.parametrize("promote", [True, False])
def test_record_challenger_commits_registration_and_promotion(db_url: str, tmp_path: Path, promote: bool) -> None:
    factory = session_factory(db_url)
    champion, challenger = _package(0), _package(1)
    with session_scope(factory) as session:
        registry.register_candidate(session, champion.version, "champion.vxpkg")
        registry.promote(session, champion.version)
    record_challenger(factory, challenger, tmp_path / "c.vxpkg", champion.version, promote, actor="retrain-run:1")
    assert _status(factory, challenger.version) == ("production" if promote else "candidate")
    assert _status(factory, champion.version) == ("retired" if promote else "production")


def test_a_failure_while_promoting_leaves_nothing_half_done(db_url: str, tmp_path: Path) -> None:
    factory = session_factory(db_url)
    champion, challenger = _package(0), _package(1)
    with session_scope(factory) as session:
        registry.register_candidate(session, champion.version, "champion.vxpkg")
        registry.promote(session, champion.version)

    def crash(step: str) -> None:
        if step == "retired-old":
            raise Crash(step)

    with pytest.raises(Crash):
        record_challenger(factory, challenger, tmp_path / "c.vxpkg", champion.version, True,
                          actor="retrain-run:1", on_step=crash)
    assert _status(factory, challenger.version) is None  # the registration was rolled back with the promotion
    assert _status(factory, champion.version) == "production"
