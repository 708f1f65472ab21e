"""`voxguard corpus import`: every manifest row accounted for, bad rows refused with a reason,
the corpus's own processing applied, and a split that keeps each group on one side."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from jobs.corpus.importer import ImportConfig, assign_group_splits, import_labelled
from jobs.corpus.labelled import read_labelled_manifest

SR = 16000


def _speech_like(path: Path, seed: int, seconds: float = 1.5) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = 0.1 * np.sin(2 * np.pi * rng.uniform(120, 220) * t) * (np.sin(2 * np.pi * 3 * t) > -0.3)
    x = x + 0.01 * rng.normal(size=t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, x.astype(np.float32), SR, subtype="PCM_16")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A user's labelled archive with one row of each kind of mistake, and a devset."""
    root = tmp_path_factory.mktemp("archive")
    devset = tmp_path_factory.mktemp("devset")
    rows = []
    for i in range(4):  # two pages, each with a real clip and a fake of the same sentence
        page = f"page{i % 2}"
        _speech_like(root / "audio" / f"real{i}.wav", seed=i)
        _speech_like(root / "audio" / f"fake{i}.wav", seed=100 + i)
        rows.append({"path": f"audio/real{i}.wav", "label": "bonafide", "system": "bonafide-ljspeech",
                     "family": "bonafide", "repo": page, "license": "CC0"})
        rows.append({"path": f"audio/fake{i}.wav", "label": "spoof", "system": f"tts{i % 2}",
                     "family": "codec-lm" if i % 2 else "vc", "repo": page, "license": "CC0"})
    shutil.copy(root / "audio" / "real0.wav", root / "audio" / "copy-of-real0.wav")
    _speech_like(devset / "audio" / "held.wav", seed=999)
    shutil.copy(devset / "audio" / "held.wav", root / "audio" / "leaked.wav")
    (root / "audio" / "notes.wav").write_text("this is not audio")
    rows += [
        {"path": "audio/missing.wav", "label": "spoof", "system": "tts0", "family": "vc", "repo": "page0"},
        {"path": "audio/notes.wav", "label": "spoof", "system": "tts0", "family": "vc", "repo": "page0"},
        {"path": "audio/real1.wav", "label": "maybe", "system": "x", "family": "vc", "repo": "page0"},
        {"path": "audio/copy-of-real0.wav", "label": "bonafide", "system": "bonafide-ljspeech", "repo": "page1"},
        {"path": "audio/leaked.wav", "label": "spoof", "system": "tts0", "family": "vc", "repo": "page1"},
        {},  # a blank line
    ]
    manifest = root / "labels.csv"
    columns = ["path", "label", "system", "family", "repo", "license"]
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            if row:
                writer.writerow(row)
            else:
                handle.write(",,,,,\n")
    return {"manifest": manifest, "devset": devset, "root": root}


@pytest.fixture(scope="module")
def imported(archive: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    import ray

    out = tmp_path_factory.mktemp("imported")
    started = not ray.is_initialized()  # an earlier test may have left its Ray running
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        info = import_labelled(ImportConfig(manifest=archive["manifest"], out=out, devsets=(archive["devset"],),
                                            variants_per_clip=1, workers=2, test_fraction=0.5, dev_fraction=0.0))
    finally:
        if started:
            ray.shutdown()
    return {"info": info, "out": out}


def test_every_row_is_accounted_for_with_a_reason(imported: dict) -> None:
    report = pd.read_csv(imported["out"] / "import_report.csv")
    assert len(report) == 14  # 8 good rows + 6 bad ones, nothing silently dropped
    reasons = dict(zip(report["path"].fillna(""), report["reason"].fillna(""), strict=True))
    assert reasons["audio/missing.wav"] == "missing_file"
    assert reasons["audio/notes.wav"] == "not_audio"
    assert reasons["audio/real1.wav"] in ("", "unknown_label")  # imported once with a good label
    assert (report["reason"] == "unknown_label").sum() == 1
    assert reasons["audio/copy-of-real0.wav"] == "duplicate"
    assert reasons["audio/leaked.wav"] == "devset_overlap"
    assert (report["reason"] == "blank_row").sum() == 1
    assert (report["status"] == "imported").sum() == 8
    info = imported["info"]
    assert info["imported"] == 8 and info["rejected"] == 6 and info["rows"] == 14


def test_clips_get_the_corpus_processing_and_keep_provenance(imported: dict) -> None:
    manifest = pd.read_parquet(imported["out"] / "manifest.parquet")
    assert len(manifest) == 16  # 8 clips x (clean + 1 augmented variant)
    assert (manifest["augmentation"] != "").sum() == 8
    for path in manifest["path"]:
        data, rate = soundfile.read(path)
        assert rate == 16000 and len(data) > 0
    assert set(manifest["licence"]) == {"CC0"}
    assert set(manifest.loc[manifest["label"] == "bonafide", "corpus"]) == {"ljspeech"}
    assert set(manifest.loc[manifest["label"] == "spoof", "family"]) == {"vc", "codec-lm"}


def test_split_keeps_each_group_on_one_side(imported: dict) -> None:
    manifest = pd.read_parquet(imported["out"] / "manifest.parquet")
    sides = manifest.groupby("group")["split"].nunique()
    assert (sides == 1).all()
    assert set(manifest["split"]) == {"train", "test"}  # two pages, half of the clips held out


def test_group_split_never_splits_a_group_and_fills_quotas() -> None:
    groups = [f"g{i % 40}" for i in range(400)]
    split = assign_group_splits(groups, seed=3, test_fraction=0.2, dev_fraction=0.1)
    assert set(split) == set(groups)
    counts = pd.Series([split[g] for g in groups]).value_counts()
    assert 60 <= counts["test"] <= 100 and 30 <= counts["dev"] <= 50


def test_manifest_without_required_columns_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file,kind\na.wav,real\n")
    with pytest.raises(ValueError, match="needs the columns"):
        read_labelled_manifest(bad)
    done = subprocess.run([sys.executable, "-m", "voxguard", "corpus", "import", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "needs the columns" in done.stderr and "Traceback" not in done.stderr


def test_merge_combines_manifests_and_refuses_a_clip_twice(imported: dict, tmp_path: Path) -> None:
    from jobs.corpus.merge import merge_manifests

    base = tmp_path / "base"
    base.mkdir()
    pd.DataFrame([{"clip_id": "b1", "path": "clips/b1.flac", "label": "bonafide", "split": "train",
                   "generator": "bonafide", "augmentation": "", "duration_s": 1.0}]).to_parquet(base / "manifest.parquet")
    merged = merge_manifests([base, imported["out"]], tmp_path / "all.parquet")
    assert len(merged) == 17
    assert merged.loc[merged["clip_id"] == "b1", "path"].item() == str((base / "clips" / "b1.flac").resolve())
    assert set(merged.loc[merged["clip_id"] == "b1", "group"]) == {""}
    with pytest.raises(ValueError, match="more than one manifest"):
        merge_manifests([imported["out"], imported["out"]], tmp_path / "twice.parquet")
