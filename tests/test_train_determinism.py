"""Reproducibility: a training run with the same seed gives the same weights, bit for bit.

Covers the Ray Train path with reviewer-feedback clips (what retraining runs) on one
CPU worker, and the feedback train/held-back split, which must not depend on where
the archive lives (the feedback-loop test relies on both to be deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from feedback.db import session_factory, session_scope, upgrade  # noqa: E402
from feedback.queue import record_verdict, verified_feedback  # noqa: E402
from feedback.reviewers import add_reviewer  # noqa: E402
from feedback_helpers import row, scored_items  # noqa: E402
from jobs.retrain.feedback_clips import load_feedback_clips  # noqa: E402
from voxguard.storage import StorageOptions  # noqa: E402
from jobs.train.config import TrainJobConfig, TrainResult  # noqa: E402
from jobs.train.trainer import train  # noqa: E402
from siamese.package import ModelPackage  # noqa: E402
from siamese.training import ClipSet  # noqa: E402
from train_tiny import tiny_model_config, write_new_channel_archive, write_tiny_corpus  # noqa: E402


def _run(manifest: Path, root: Path, name: str, seed: int, extra: ClipSet) -> TrainResult:
    """A two-epoch fine-tuning-sized run with weighted extra clips, as retraining does."""
    return train(TrainJobConfig(
        manifest=manifest, out=root / f"{name}.vxpkg", model=tiny_model_config(), epochs=2, batch_size=8,
        batches_per_epoch=8, lr=3e-3, num_workers=1, seed=seed, storage_path=str(root / "runs"), name=name,
        resume=False, cache_dir=root / "cache", devset=None, max_dev_clips=16, max_test_clips=16,
        extra_train=extra, extra_weight=3.0, verbose=False,
    ))


def test_same_seed_same_weights_other_seed_differs(tmp_path: Path) -> None:
    manifest = write_tiny_corpus(tmp_path / "corpus")
    rng = np.random.default_rng(5)
    waves = [(0.05 * rng.normal(size=12000)).astype(np.float32) for _ in range(4)]
    extra = ClipSet(waves, np.array([1, 0, 1, 0]), ["fb"] * 4, ["feedback"] * 4, [f"fb{i}" for i in range(4)])
    ray.shutdown()  # an earlier test's embedded Ray may still be up in this process
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        first, again, other = (_run(manifest, tmp_path, n, s, extra) for n, s in (("a", 7), ("b", 7), ("c", 8)))
    finally:
        ray.shutdown()
    weights = [ModelPackage.load(r.package_path).state_dict for r in (first, again, other)]
    assert weights[0].keys() == weights[1].keys()
    unequal = [k for k in weights[0] if not torch.equal(weights[0][k], weights[1][k])]
    assert not unequal, f"same seed, different tensors: {unequal}"
    # The version is `date-hash of the weights`: equal weights, equal hash.
    assert first.version.split("-")[1] == again.version.split("-")[1]
    assert [h["loss"] for h in first.history] == [h["loss"] for h in again.history]
    assert any(not torch.equal(weights[0][k], weights[2][k]) for k in weights[0]), "another seed, same weights"
    assert first.version.split("-")[1] != other.version.split("-")[1]


def _feedback_split(root: Path, seed: int) -> tuple[list[str], list[str]]:
    """(held-back, train) clip names after a lead marks every clip of a fresh archive bona fide."""
    paths = write_new_channel_archive(root / "archive", 8)
    db_url = f"sqlite:///{root / 'feedback.db'}"
    upgrade(db_url)
    factory = session_factory(db_url)
    ids = scored_items(factory, [row(str(p)) for p in paths])
    with session_scope(factory) as s:
        add_reviewer(s, "lead", "lead-password", role="lead", rounds=4)
        for item_id in ids.values():
            record_verdict(s, item_id, "lead", "bonafide")
    with session_scope(factory) as s:
        verdicts = verified_feedback(s)
    clips = load_feedback_clips(verdicts, tiny_model_config().audio, StorageOptions(), holdback_fraction=0.3, seed=seed)
    assert not clips.skipped

    def names(part: ClipSet) -> list[str]:
        return sorted(Path(c).name for c in part.clip_ids)

    return names(clips.heldback), names(clips.train)


def test_feedback_holdback_split_does_not_depend_on_archive_location(tmp_path: Path) -> None:
    here = _feedback_split(tmp_path / "one" / "place", seed=0)
    there = _feedback_split(tmp_path / "elsewhere", seed=0)
    assert len(here[0]) == 3 and len(here[1]) == 5
    assert here == there
