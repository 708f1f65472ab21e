"""Training job through Ray Train on a tiny corpus: 2 and 1 CPU workers, package, card, fine-tuning."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from jobs.train.config import TrainJobConfig  # noqa: E402
from jobs.train.manifest import load_manifest  # noqa: E402
from jobs.train.trainer import train  # noqa: E402
from siamese.detector import Detector  # noqa: E402
from siamese.package import ModelPackage  # noqa: E402
from siamese.training import ClipSet  # noqa: E402
from train_tiny import tiny_model_config, write_tiny_corpus  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-corpus")
    manifest = write_tiny_corpus(root)
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield manifest
    ray.shutdown()


def _job(manifest: Path, out: Path, workers: int, **kw) -> TrainJobConfig:
    defaults = dict(
        manifest=manifest, out=out, model=tiny_model_config(), epochs=3, batch_size=8, batches_per_epoch=24,
        lr=3e-3, num_workers=workers, storage_path=str(out.parent / "runs"), name=f"w{workers}", resume=False,
        cache_dir=manifest.parent / "cache", devset=None, verbose=False,
    )
    defaults.update(kw)
    return TrainJobConfig(**defaults)


def _card_shape(card: dict) -> dict:
    """Keys and per-group names: what must not depend on the number of workers."""
    return {k: sorted(v) if isinstance(v, dict) else type(v).__name__ for k, v in card.items() if k != "threshold_sweep"}


@pytest.fixture(scope="module")
def two_worker_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("w2") / "model.vxpkg"
    return train(_job(corpus, out, workers=2))


def test_two_workers_train_calibrate_and_package(two_worker_run) -> None:
    result = two_worker_run
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    test = result.metrics["test"]
    assert {"eer", "min_dcf", "cllr", "roc_auc", "accuracy", "per_group_eer", "threshold_sweep"} <= set(test)
    assert set(test["per_group_eer"]) == {"gen4"}  # the held-out generator only
    assert test["eer"] < 0.5  # the whistle is learnable from the training generators
    pkg = ModelPackage.load(result.package_path)
    assert pkg.training["num_workers"] == 2 and pkg.training["epochs_run"] == 3
    assert result.package_path.with_suffix(".md").read_text().startswith("# voxguard model")


def test_package_loads_and_scores(two_worker_run, corpus: Path) -> None:
    detector = Detector.from_package(two_worker_run.package_path, device="cpu")
    rows = load_manifest(corpus)
    row = rows[rows["split"] == "test"].iloc[0]
    result = detector.score(Path(row["path"]).read_bytes())
    assert result.error is None
    assert 0.0 <= result.prob_bonafide <= 1.0
    assert result.label in {"bonafide", "spoof", "inconclusive"}


def test_one_worker_same_card_shape_and_falling_loss(two_worker_run, corpus: Path, tmp_path: Path) -> None:
    result = train(_job(corpus, tmp_path / "model.vxpkg", workers=1))
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert _card_shape(result.metrics["test"]) == _card_shape(two_worker_run.metrics["test"])
    assert _card_shape(result.metrics["dev"]) == _card_shape(two_worker_run.metrics["dev"])


def test_init_fine_tunes_with_weighted_extra_clips(two_worker_run, corpus: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    waves = [(0.05 * rng.normal(size=12000)).astype(np.float32) for _ in range(4)]
    extra = ClipSet(waves, np.array([1, 0, 1, 0]), ["fb"] * 4, ["feedback"] * 4, [f"fb{i}" for i in range(4)])
    result = train(_job(corpus, tmp_path / "ft.vxpkg", workers=1, epochs=1, init=two_worker_run.package_path,
                        model=tiny_model_config().replace(encoder={"channels": (2,)}),  # ignored: --init keeps its config
                        extra_train=extra, extra_weight=3.0))
    pkg = ModelPackage.load(result.package_path)
    parent = ModelPackage.load(two_worker_run.package_path)
    assert pkg.config == parent.config
    assert pkg.training["parent_version"] == parent.version
    assert pkg.training["n_extra_train"] == 4
    assert pkg.version != parent.version
    assert math.isfinite(result.history[0]["loss"])
