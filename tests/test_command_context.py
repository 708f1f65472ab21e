"""One context per command: one database engine, one package load, one default-model rule.

A real `voxguard score` run (SQLite feedback database with a registered
production model, a group bank) counts, in the command's process, how many
engines were created, how many times a package was loaded and how many networks
were built. With the Ray executor: 1, 0 and 0 (the driver aggregates with the
package's calibration and operating point only; the scoring actors load the
weights), and in its own process such a run never imports torch or scipy. With
the local executor the command is the scorer: 1, 1 and 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import feedback.db
from feedback.db import session_factory, session_scope, upgrade
from feedback.queue import list_queue
from feedback.registry import promote, register_candidate
from siamese.detector import Detector
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage, read_meta
from siamese.verdict import VerdictRule
from tests.fixtures_score import RATE, ray_local, real_like, score_model, synthetic_like, write_clip  # noqa: F401
from voxguard.cli import main


@pytest.fixture
def registered(score_model, tmp_path, monkeypatch):  # noqa: F811
    """A SQLite feedback database whose production model is the fixture package."""
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    upgrade(url)
    package = ModelPackage.load(score_model)
    factory = session_factory(url)
    with session_scope(factory) as session:
        register_candidate(session, package.version, str(score_model), threshold=package.operating_point.threshold)
        promote(session, package.version, actor="test")
    factory.kw["bind"].dispose()
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "data"))
    return url, package.version


@pytest.fixture
def counters(monkeypatch):
    """Counts engine creations, package loads and network builds made in this process."""
    counts = {"engines": 0, "loads": 0, "networks": 0}
    real_create, real_load, real_init = feedback.db.create_engine, ModelPackage.load.__func__, SiameseNetwork.__init__

    def create_engine(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["engines"] += 1
        return real_create(*args, **kwargs)

    def load(cls, path):  # type: ignore[no-untyped-def]
        counts["loads"] += 1
        return real_load(cls, path)

    def init(self, config):  # type: ignore[no-untyped-def]
        counts["networks"] += 1
        real_init(self, config)

    monkeypatch.setattr(feedback.db, "create_engine", create_engine)
    monkeypatch.setattr(ModelPackage, "load", classmethod(load))
    monkeypatch.setattr(SiameseNetwork, "__init__", init)
    return counts


@pytest.mark.parametrize(
    ("executor", "expected"),
    [("ray", {"engines": 1, "loads": 0, "networks": 0}), ("local", {"engines": 1, "loads": 1, "networks": 1})],
)
def test_a_scoring_command_opens_one_engine_and_loads_the_package_once(
    registered, counters, tmp_path, ray_local, executor, expected  # noqa: F811
):
    url, version = registered
    rng = np.random.default_rng(3)
    for i in range(3):
        write_clip(tmp_path / "clips" / f"real{i}.wav", real_like(1.5, rng))
        write_clip(tmp_path / "clips" / f"fake{i}.wav", synthetic_like(1.5, rng))
    out = tmp_path / "out"
    # No --model: the registry's production model. --group: the group bank is read too.
    assert main(["score", str(tmp_path / "clips"), "--out", str(out), "--group", "line-a", "--executor", executor]) == 0
    # Ray: the driver reads the package's metadata only, the scoring actors load the weights.
    # Local: this process scores, with one load and one network for all its threads.
    assert counters == expected
    rows = pq.read_table(str(out)).to_pylist()
    assert len(rows) == 6 and {r["model_version"] for r in rows} == {version}
    with session_scope(session_factory(url)) as session:  # the sink wrote through that one engine
        assert len(list_queue(session).rows) == sum(bool(r["flagged"]) for r in rows)


def test_score_file_uses_the_same_default_model_rule(registered, tmp_path, monkeypatch, capsys):
    """No --model: the registry's production model wins over VOXGUARD_MODEL / the bundled model."""
    _, version = registered
    monkeypatch.setenv("VOXGUARD_MODEL", str(tmp_path / "not-used.vxpkg"))
    clip = write_clip(tmp_path / "a.wav", real_like(1.2, np.random.default_rng(0)))
    assert main(["score-file", str(clip)]) == 0
    assert capsys.readouterr().out.startswith(f"model {version} ")


def test_metadata_and_verdict_without_the_network(score_model, counters):  # noqa: F811
    """`read_meta` gives the window plan, calibration and operating point; `VerdictRule` aggregates alike."""
    meta = read_meta(score_model)
    assert counters == {"engines": 0, "loads": 0, "networks": 0}
    package = ModelPackage.load(score_model)
    assert meta == package.meta and meta.config.audio.window_s == 1.0
    detector = Detector(package, device="cpu")
    wave = synthetic_like(2.3, np.random.default_rng(7))
    windows = detector.windows(wave)
    scores = detector.score_windows(windows.frames)
    expected = detector.aggregate("x", scores, windows.starts_s, windows.ends_s)
    assert VerdictRule.of(meta).aggregate("x", scores, windows.starts_s, windows.ends_s) == expected
    scored = detector.score(wave, sample_rate=RATE, name="x").to_dict()
    assert {k: v for k, v in scored.items() if k not in ("duration_s", "sample_rate", "channels")} == {
        k: v for k, v in expected.to_dict().items() if k not in ("duration_s", "sample_rate", "channels")}


DRIVER_PROBE = """
import json, sys
from voxguard.cli import main
rc = main(["score", sys.argv[1], "--out", sys.argv[2], "--model", sys.argv[3], "--no-feedback", "--json",
           "--executor", "ray"])
print(json.dumps({"rc": rc, "heavy": sorted(m for m in ("torch", "torchaudio", "scipy") if m in sys.modules)}))
"""


def test_the_scoring_driver_never_imports_torch(score_model, tmp_path):  # noqa: F811
    """`voxguard score --executor ray` in a fresh process: clips scored, and torch (~0.5 GiB, ~4 s) stays in
    the actors (the local executor, the default on 2 cores, imports it: it is the scorer)."""
    rng = np.random.default_rng(5)
    for i in range(2):
        write_clip(tmp_path / "clips" / f"real{i}.wav", real_like(1.5, rng))
    env = {**os.environ, "VOXGUARD_DATA_DIR": str(tmp_path / "data"), "VOXGUARD_DB_URL": f"sqlite:///{tmp_path}/f.db"}
    done = subprocess.run([sys.executable, "-c", DRIVER_PROBE, str(tmp_path / "clips"), str(tmp_path / "out"),
                           str(score_model)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe == {"rc": 0, "heavy": []}
    assert len(pq.read_table(str(tmp_path / "out")).to_pylist()) == 2
