"""Corpus builder end to end on a handful of clips: every generator family once, caching, manifest contract."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from jobs.corpus import CorpusConfig, build_corpus
from jobs.corpus.build import MANIFEST_COLUMNS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _tone_speech(seconds: float, rate: int, f0: float, seed: int) -> np.ndarray:
    """A crude voiced signal (harmonics with a syllable envelope) - enough for every vocoder."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    voiced = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 3.0 * t)) * (t > 0.2) * (t < seconds - 0.2)
    return (0.2 * voiced * envelope + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny manifest: 4 bona fide speakers (8 kHz and 16 kHz) and 2 ready-made spoof sources (22.05 kHz)."""
    root = tmp_path_factory.mktemp("inputs")
    rows = []
    specs = [
        ("bonafide", "corpus-a", "alice", 16000, 210.0),
        ("bonafide", "corpus-a", "bob", 16000, 120.0),
        ("bonafide", "corpus-b", "carol", 8000, 230.0),
        ("bonafide", "corpus-b", "dave", 8000, 110.0),
        ("spoof", "tts-x", "lj", 22050, 190.0),
        ("spoof", "tts-y", "vctk-1", 22050, 140.0),
    ]
    for i, (label, source, speaker, rate, f0) in enumerate(specs):
        path = root / label / f"{source}__{speaker}_{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, _tone_speech(1.6, rate, f0, i), rate)
        rows.append({"path": str(path.relative_to(root)), "label": label, "source": source,
                     "speaker": speaker, "license": "test", "sample_rate": rate})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def built(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[CorpusConfig, Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    config = CorpusConfig(
        bonafide=(inputs,), out=out, variants_per_clip=1, tts_per_generator=1,
        copies_per_clip=6, hifigan_max=1, workers=2, test_fraction=0.3, seed=7,
    )
    build_corpus(config)
    return config, out, json.loads((out / "build_info.json").read_text())


def test_manifest_contract(built: tuple[CorpusConfig, Path, dict]) -> None:
    _, out, info = built
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert info["jobs_failed"] == 0, info["errors"]
    assert manifest["clip_id"].is_unique
    assert set(manifest["label"]) == {"bonafide", "spoof"}
    assert set(manifest["split"]) <= {"train", "dev", "test"}
    assert set(manifest["family"]) == {"bonafide", "dataset-spoof", "tts-classic", "tts-neural", "vocoder-copy"}
    generators = set(manifest["generator"])
    assert {"espeak-ng", "piper-joe", "world-copy", "lpc-copy", "griffinlim-copy", "hifigan-copy"} <= generators
    assert {"tts-x", "tts-y"} <= generators  # ready-made spoofs keep their source as generator
    assert (manifest.loc[manifest.label == "bonafide", "generator"] == "bonafide").all()
    assert manifest["licence"].str.len().gt(0).all()
    # One clean copy + one augmented variant per job, described in `augmentation`.
    assert (manifest["augmentation"] == "").sum() == (manifest["augmentation"] != "").sum()
    for row in manifest.sample(8, random_state=0).itertuples():
        assert Path(row.path).is_absolute()
        data, rate = soundfile.read(row.path)
        assert rate == 16000 and data.ndim == 1
        assert abs(len(data) / rate - row.duration_s) < 1e-3
    # Copies share speaker and split with the bona fide clip they copy.
    copies = manifest[manifest.family == "vocoder-copy"]
    bona = manifest[manifest.label == "bonafide"].drop_duplicates("origin").set_index("origin")
    for row in copies.itertuples():
        assert bona.loc[row.origin, "speaker"] == row.speaker
        assert bona.loc[row.origin, "split"] == row.split


def test_second_run_is_incremental(built: tuple[CorpusConfig, Path, dict]) -> None:
    config, out, first = built
    manifest = pd.read_parquet(out / "manifest.parquet")
    mtimes = {p: Path(p).stat().st_mtime_ns for p in manifest["path"]}
    build_corpus(CorpusConfig(**{**config.__dict__, "run_audit": False}))
    second = json.loads((out / "build_info.json").read_text())
    assert first["jobs_run"] == first["jobs_planned"] > 0
    assert second["jobs_run"] == 0 and second["jobs_cached"] == second["jobs_planned"]
    again = pd.read_parquet(out / "manifest.parquet")
    assert list(again["clip_id"]) == list(manifest["clip_id"])
    assert {p: Path(p).stat().st_mtime_ns for p in again["path"]} == mtimes


def test_audit_reports_numbers(built: tuple[CorpusConfig, Path, dict]) -> None:
    _, out, _ = built
    audit = json.loads((out / "audit.json").read_text())
    for part in ("raw_inputs", "processed_all", "processed_clean", "processed_augmented"):
        assert audit[part]["n"] > 0
        assert 0.0 <= audit[part]["chance_majority"] <= 1.0
    for model in ("tree_depth3", "logistic"):
        assert 0.0 <= audit["processed_all"][model]["accuracy"] <= 1.0
    # Raw inputs differ in rate (8/16 kHz vs 22.05 kHz); every processed file is 16 kHz, so the
    # sample rate alone carries no information (balanced accuracy about 0.5).
    assert audit["raw_inputs"]["single_feature_balanced_accuracy"]["sample_rate"] > 0.5
    assert audit["processed_all"]["single_feature_balanced_accuracy"]["sample_rate"] <= 0.55


def test_split_leakage(built: tuple[CorpusConfig, Path, dict]) -> None:
    _, out, _ = built
    manifest = pd.read_parquet(out / "manifest.parquet")
    train, test = manifest[manifest.split != "test"], manifest[manifest.split == "test"]
    assert len(test) and len(train)
    assert not set(train["speaker"]) & set(test["speaker"])
    spoof_gens = lambda m: set(m.loc[m.label == "spoof", "generator"])  # noqa: E731
    assert not spoof_gens(train) & spoof_gens(test)


@pytest.mark.skipif(not (SHARED / "manifest.csv").is_file(), reason="shared corpus not present")
def test_shared_corpus_speakers_are_derived() -> None:
    from jobs.corpus.inputs import load_inputs

    clips = load_inputs((SHARED,), "bonafide")
    assert all(c.speaker for c in clips)
    by_name = {c.path.name: c.speaker for c in clips}
    if "fsdd__0_george_1.flac" in by_name:
        assert by_name["fsdd__0_george_1.flac"] == "george"
