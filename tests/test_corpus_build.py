"""Corpus builder end to end on a handful of clips: every generator family once, caching, manifest contract."""

from __future__ import annotations

import csv
import json
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from jobs.corpus import CorpusConfig, build_corpus
from jobs.corpus.build import MANIFEST_COLUMNS
from jobs.corpus.config import FIXED_GENERATOR_SPLITS
from jobs.corpus.generators import registry
from jobs.corpus.worker import Job, run_job

# Generator families added after the first build: festival (one generator per voice) and Kokoro-82M.
FESTIVAL = ("festival-kal", "festival-ked", "festival-slt-hts")

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
def built(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CorpusConfig, Path, dict]]:
    out = tmp_path_factory.mktemp("corpus")
    config = CorpusConfig(
        bonafide=(inputs,), out=out, variants_per_clip=1, tts_per_generator=1,
        copies_per_clip=6, hifigan_max=1, workers=2, test_fraction=0.3, seed=7,
    )
    build_corpus(config)
    yield config, out, json.loads((out / "build_info.json").read_text())
    import ray

    ray.shutdown()  # the build starts an embedded Ray; later test modules must not inherit it


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
    assert {*FESTIVAL, "kokoro"} <= generators
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


def test_new_generators_licence_and_split(built: tuple[CorpusConfig, Path, dict]) -> None:
    """festival and Kokoro clips: licence recorded, 16 kHz speech-level audio, Kokoro held out in test."""
    _, out, info = built
    manifest = pd.read_parquet(out / "manifest.parquet")
    for name in (*FESTIVAL, "kokoro"):
        rows = manifest[manifest.generator == name]
        assert len(rows) == 2, name  # one utterance: clean + one augmented variant
        assert (rows["licence"] == registry()[name].licence).all()
        assert set(rows["split"]) <= ({"test"} if info["generator_split"][name] == "test" else {"train", "dev"})
        clean = rows[rows.augmentation == ""].iloc[0]
        data, rate = soundfile.read(clean.path)
        assert rate == 16000 and np.sqrt(np.mean(data**2)) > 0.01, name
    assert manifest.loc[manifest.generator.isin(FESTIVAL), "family"].eq("tts-classic").all()
    assert "Festival" in registry()["festival-kal"].licence and "Apache-2.0" in registry()["kokoro"].licence
    # Kokoro is pinned to the held-out split (the only unseen neural TTS); Piper stays in training.
    assert FIXED_GENERATOR_SPLITS == {"piper-joe": "train", "kokoro": "test"}
    assert info["generator_split"]["kokoro"] == "test" and info["generator_split"]["piper-joe"] == "train"
    assert set(manifest.loc[manifest.generator == "kokoro", "split"]) == {"test"}
    assert "test" not in set(manifest.loc[manifest.generator == "piper-joe", "split"])


@pytest.mark.parametrize("name", [*FESTIVAL, "kokoro"])
def test_new_generator_short_sentence(name: str, tmp_path: Path) -> None:
    """One real synthesis through the worker: a short sentence -> non-silent 16 kHz clip and its row."""
    gen = registry()[name]
    assert gen.available(), f"{name} is not installed (festival voices: .ci/run; kokoro: the corpus extra)"
    params, speaker = gen.sample(random.Random(0), "en")
    job = Job(
        job_id=f"{name}-short-sentence-test", kind="tts", label="spoof", generator=name, family=gen.family,
        speaker=speaker, source="test", language="en", licence=gen.licence, origin="text:test",
        variants=0, seed=0, crop_min_s=2.0, crop_max_s=6.0, text="The whale is near.", params=params,
    )
    started = time.perf_counter()
    (row,) = run_job(job, tmp_path)["rows"]
    seconds = time.perf_counter() - started
    data, rate = soundfile.read(row["path"])
    assert rate == 16000 and data.ndim == 1
    assert 0.4 < len(data) / rate < 6.0
    assert np.sqrt(np.mean(data**2)) > 0.01
    assert row["generator"] == name and row["licence"] == gen.licence and row["speaker"] == speaker
    assert seconds < 30, f"{name}: {seconds:.1f} s for one short sentence"


def test_kokoro_phonemes_cover_the_sentences() -> None:
    """Every symbol espeak-ng gives for the bundled English sentences maps onto Kokoro's vocabulary
    (unknown symbols would be dropped silently and slur the speech)."""
    from jobs.corpus.generators.neural import _kokoro, espeak_phonemes, to_kokoro_phonemes
    from jobs.corpus.text import sentences_for

    _, vocab, _ = _kokoro()
    text = " ".join(u.text for u in sentences_for({"en"}))
    phonemes = to_kokoro_phonemes(" ".join(espeak_phonemes(text)))
    assert len(phonemes) > len(text) / 2
    assert not {c for c in phonemes if c not in vocab}
    assert {"I", "A", "O", "ʤ", "ʧ"} <= set(phonemes)  # diphthongs and affricates became single tokens


@pytest.mark.skipif(not (SHARED / "manifest.csv").is_file(), reason="shared corpus not present")
def test_shared_corpus_speakers_are_derived() -> None:
    from jobs.corpus.inputs import load_inputs

    clips = load_inputs((SHARED,), "bonafide")
    assert all(c.speaker for c in clips)
    by_name = {c.path.name: c.speaker for c in clips}
    if "fsdd__0_george_1.flac" in by_name:
        assert by_name["fsdd__0_george_1.flac"] == "george"
