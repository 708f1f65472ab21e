"""Which corpus a retraining fine-tunes on, and its progress lines (fast, no training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from jobs.retrain.base_data import SAMPLE_MANIFEST, resolve_base_data
from jobs.retrain.progress import EpochProgress, fmt_duration
from jobs.train.manifest import load_manifest
from voxguard.errors import InputError


def test_given_then_recorded_then_the_sample_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "var" / "corpus" / "manifest.parquet"
    corpus.parent.mkdir(parents=True)
    corpus.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    # The checkout is looked in too: keep this test's answer independent of a corpus built in this clone.
    monkeypatch.setattr("jobs.retrain.base_data.REPO_ROOT", tmp_path / "checkout")
    given = resolve_base_data(corpus, "var/corpus/manifest.parquet", tmp_path / "work")
    assert given.source == "given" and given.warning is None
    with pytest.raises(InputError, match="--manifest .* does not exist; build the corpus with `make corpus`"):
        resolve_base_data(tmp_path / "nope.parquet", None, tmp_path / "work")
    # A relative recorded path (what the bundled model records) is found from the working directory.
    recorded = resolve_base_data(None, "var/corpus/manifest.parquet", tmp_path / "work")
    assert recorded.source == "recorded" and recorded.manifest == corpus.resolve()
    corpus.unlink()
    fallback = resolve_base_data(None, "var/corpus/manifest.parquet", tmp_path / "work")
    assert fallback.fallback and fallback.manifest.parent == tmp_path / "work"
    assert "'var/corpus/manifest.parquet' is not built here" in fallback.warning
    assert "bundled sample set" in fallback.warning and "make corpus" in fallback.warning
    # A challenger trained on the fallback records that file: the next run must still say it is the fallback.
    again = resolve_base_data(None, str(fallback.manifest), tmp_path / "work")
    assert again.fallback


def test_the_sample_set_manifest_is_split_and_leaves_feedback_clips_out(tmp_path: Path) -> None:
    raw = pd.read_csv(SAMPLE_MANIFEST)
    clip = str((SAMPLE_MANIFEST.parent / "clips" / raw["file"][0]).resolve())
    base = resolve_base_data(None, None, tmp_path, exclude=frozenset({clip}))
    frame = load_manifest(base.manifest)
    assert len(frame) == len(raw) - 1 and clip not in set(frame["path"])
    for split in ("train", "dev", "test"):
        assert set(frame.loc[frame["split"] == split, "label"]) == {"bonafide", "spoof"}, split
    assert all(Path(p).exists() for p in frame["path"])
    everything = frozenset(str((SAMPLE_MANIFEST.parent / "clips" / f).resolve())
                           for f in raw.loc[raw["label"] == "spoof", "file"])
    with pytest.raises(InputError, match="too few clips left"):
        resolve_base_data(None, None, tmp_path, exclude=everything)


def test_epoch_lines_with_eta() -> None:
    lines: list[str] = []
    beats: list[int] = []
    now = [100.0]
    progress = EpochProgress(4, lines.append, lambda: beats.append(1), clock=lambda: now[0])
    now[0] = 130.0
    progress({"epoch": 0, "loss": 0.91234, "dev_eer": 0.31})
    now[0] = 160.0
    progress({"epoch": 1, "loss": 0.5, "dev_eer": 0.25})
    now[0] = 190.0
    progress({"epoch": 2, "loss": 0.4, "dev_eer": 0.2, "stopped": True})
    assert lines[0] == "epoch 1/4  loss 0.9123  dev EER 31.0 %  elapsed 30s  ETA 1m30s"
    assert lines[1] == "epoch 2/4  loss 0.5000  dev EER 25.0 %  elapsed 1m00s  ETA 1m00s"
    assert lines[2].endswith("elapsed 1m30s  done")  # early stop: nothing left
    assert len(beats) == 3  # each epoch heart-beats the run
    assert fmt_duration(3725) == "1h02m"
