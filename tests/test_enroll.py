"""Instant adaptation: verified bona fide clips enrolled into a group make the next
scoring run (with --group) trust that channel, before any retraining."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from feedback.db import session_factory, session_scope
from feedback.enrollment import reference_bank
from feedback.queue import list_queue, record_verdict
from feedback.reviewers import add_reviewer
from siamese.training import ClipSet, TrainConfig, package_model, train_model
from train_tiny import tiny_model_config, write_new_channel_archive, write_tiny_corpus
from voxguard.cli import main as voxguard

N_CLIPS = 16


def _clipset(manifest: Path, split: str) -> ClipSet:
    import pandas as pd
    import soundfile

    rows = pd.read_parquet(manifest)
    rows = rows[rows["split"] == split]
    return ClipSet(
        waveforms=[soundfile.read(p, dtype="float32")[0] for p in rows["path"]],
        labels=(rows["label"] == "bonafide").to_numpy().astype(np.int64),
        groups=list(rows["speaker"]),
        generators=list(rows["generator"]),
        clip_ids=list(rows["clip_id"]),
    )


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("enroll-corpus")
    manifest = write_tiny_corpus(root, per_split=24)
    torch.set_num_threads(1)
    train, dev = _clipset(manifest, "train"), _clipset(manifest, "dev")
    network, _ = train_model(
        tiny_model_config(), train, dev, TrainConfig(epochs=4, batch_size=16, batches_per_epoch=30, lr=3e-3)
    )
    package = package_model(network, dev, None, train.clip_ids, {"objective": "contrastive"})
    return package.save(root / "tiny.vxpkg")


def _flagged(dest: Path) -> dict[str, bool]:
    return {Path(r["uri"]).name: bool(r["flagged"]) for r in pq.read_table(dest).to_pylist()}


@pytest.fixture
def _own_ray() -> Iterator[None]:
    """The CLI starts an embedded Ray in this process; stop it afterwards for the next tests."""
    import ray

    yield
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.usefixtures("_own_ray")
def test_enrolled_references_clear_false_alarms(tiny_package: Path, tmp_path: Path, monkeypatch) -> None:
    db_url = f"sqlite:///{tmp_path / 'fb.db'}"
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    monkeypatch.setenv("VOXGUARD_MODEL", str(tiny_package))
    archive = tmp_path / "line-b"
    write_new_channel_archive(archive, N_CLIPS)

    assert voxguard(["score", str(archive), "--out", str(tmp_path / "before")]) == 0
    before = _flagged(tmp_path / "before")
    assert sum(before.values()) >= N_CLIPS // 2, "the model should mistake the new line for synthetic"

    # Reviewers verify half of the flagged clips as real; those are enrolled for the line.
    factory = session_factory(db_url)
    with session_scope(factory) as s:
        add_reviewer(s, "lead", "lead-password", role="lead", rounds=4)
        rows = list_queue(s, page_size=100).rows
        verified = rows[: len(rows) // 2]
        for row in verified:
            record_verdict(s, row.item_id, "lead", "bonafide")
    assert voxguard(["enroll", "--group", "line-b"]) == 0
    with session_scope(factory) as s:
        bank = reference_bank(s, rows[0].model_version, "line-b")
    assert bank["line-b"].shape[0] == len(verified)

    # Unenrolled refusal: a clip no reviewer verified cannot be enrolled.
    unverified = next(uri for uri in (str(p) for p in sorted(archive.iterdir())) if uri not in {r.uri for r in verified})
    assert voxguard(["enroll", "--group", "line-b", unverified]) == 2

    assert voxguard(["score", str(archive), "--out", str(tmp_path / "after"), "--group", "line-b"]) == 0
    after = _flagged(tmp_path / "after")
    held_out = [name for name in before if name not in {Path(r.uri).name for r in verified}]
    # Fewer false alarms on the line, including clips that were not themselves enrolled.
    assert sum(after.values()) < sum(before.values())
    assert sum(after[n] for n in held_out) < sum(before[n] for n in held_out)
