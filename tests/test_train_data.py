"""Manifest loading for the training job: builder Parquet and raw CSV, disjoint splits, weighting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from jobs.evaluate.ablation import VARIANTS, table, variant_config
from jobs.train.config import TrainJobConfig
from jobs.train.data import select_training_rows, weight_rows
from jobs.train.manifest import COLUMNS, load_manifest
from train_tiny import write_tiny_corpus


def _raw_csv(tmp_path: Path) -> Path:
    rows = []
    for s in range(30):  # 30 speakers x 4 bona fide clips, the last 6 speakers unnamed
        for k in range(4):
            rows.append({"path": f"bonafide/s{s}-{k}.wav", "label": "bonafide", "source": f"corpus{s % 3}",
                         "speaker": f"spk{s}" if s < 24 else "", "license": "CC0", "duration_s": 2.0})
    for g in range(12):  # 12 generators x 5 clips
        for k in range(5):
            rows.append({"path": f"spoof/g{g}-{k}.wav", "label": "spoof", "source": f"gen{g}", "speaker": "",
                         "license": "CC0", "duration_s": 2.0})
    path = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_raw_csv_gets_builder_columns_and_disjoint_splits(tmp_path: Path) -> None:
    frame = load_manifest(_raw_csv(tmp_path))
    assert set(COLUMNS) <= set(frame.columns)
    assert all(Path(p).is_absolute() and p.startswith(str(tmp_path)) for p in frame["path"])
    assert set(frame["split"]) == {"train", "dev", "test"}
    for label in ("bonafide", "spoof"):
        part = frame[frame["label"] == label]
        assert set(part["split"]) == {"train", "dev", "test"}, label
    groups = {s: set(frame.loc[frame["split"] == s, "group"]) for s in ("train", "dev", "test")}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["dev"] and not groups["dev"] & groups["test"]
    spoof = frame[frame["label"] == "spoof"]
    assert set(spoof["generator"]) == {f"gen{g}" for g in range(12)}
    # Unnamed speakers fall back to their source, so they still split as groups.
    assert (frame.loc[frame["path"].str.contains("s25-"), "speaker"] == "corpus1-unknown").all()


def test_raw_split_is_deterministic(tmp_path: Path) -> None:
    path = _raw_csv(tmp_path)
    assert list(load_manifest(path)["split"]) == list(load_manifest(path)["split"])


def test_builder_parquet_is_taken_as_is(tmp_path: Path) -> None:
    manifest = write_tiny_corpus(tmp_path)
    frame = load_manifest(manifest)
    original = pd.read_parquet(manifest)
    assert list(frame["split"]) == list(original["split"])
    assert list(frame["generator"]) == list(original["generator"])


def test_bad_labels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.wav"], "label": ["fake"], "split": ["train"], "generator": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="unknown labels"):
        load_manifest(path)


def test_augmentation_switch_and_weighting() -> None:
    frame = pd.DataFrame({
        "split": ["train", "train", "train", "dev"], "augmentation": ["", "mp3 32k", "", ""],
        "group": ["a", "a", "b", "c"], "cache": ["1", "2", "3", "4"],
    })
    assert len(select_training_rows(frame, augmentation=True)) == 3
    assert list(select_training_rows(frame, augmentation=False)["cache"]) == ["1", "3"]
    weighted = weight_rows(frame.iloc[:2], 3.0)
    assert len(weighted) == 6 and weighted["group"].nunique() == 6  # each copy its own sampler group
    assert sorted(set(weighted["cache"])) == ["1", "2"]


def test_ablation_variants_change_one_thing(tmp_path: Path) -> None:
    base = TrainJobConfig(manifest=tmp_path / "m.parquet", out=tmp_path / "x.vxpkg")
    for name in VARIANTS:
        config = variant_config(base, name, tmp_path)
        diffs = [section for section in ("audio", "frontend", "encoder", "comparison")
                 if getattr(config.model, section) != getattr(base.model, section)]
        diffs += [f for f in ("objective", "augmentation") if getattr(config, f) != getattr(base, f)]
        if name.startswith("frontend="):
            # The encoder follows the front-end (2-D convolutions for spectra, 1-D for Whisper).
            assert diffs[0] == "frontend" and set(diffs) <= {"frontend", "encoder"}, (name, diffs)
            changed = {f for f in ("kind", "channels", "dropout", "pooling", "embedding_dim")
                       if getattr(config.model.encoder, f) != getattr(base.model.encoder, f)}
            assert changed <= {"kind", "channels"}, (name, changed)
            continue
        expected = 0 if name in ("baseline", "comparison=mahalanobis") else name.count("+") + 1
        assert len(diffs) == expected, (name, diffs)
        assert config.out.name.endswith(".vxpkg") and "=" not in config.name


def test_ablation_table_averages_seeds_and_shows_their_range() -> None:
    def row(variant, seed, devset, test):
        return {"variant": variant, "seed": seed, "devset_eer": devset, "test_eer": test, "dev_eer": 0.3,
                "test_min_dcf": 0.7, "epochs": 3, "wall_s": 100.0}

    text = table([row("baseline", 0, 0.40, 0.30), row("baseline", 1, 0.44, 0.20), row("pooling=mean", 0, None, 0.25)])
    lines = text.splitlines()
    assert lines[2].startswith("| baseline | 2 | 42.00% (40.0–44.0) | 25.00% (20.0–30.0) | 30.00% (30.0–30.0) |")
    assert lines[3].startswith("| pooling=mean | 1 | n/a | 25.00% | 30.00% | 0.7000 |")


def test_resume_refuses_a_run_started_with_other_settings(tmp_path: Path) -> None:
    from jobs.train.trainer import JOB_FILE, _delete_run, check_resume

    base = TrainJobConfig(manifest=tmp_path / "m.parquet", out=tmp_path / "x.vxpkg", storage_path=str(tmp_path / "runs"), name="r")
    check_resume(base)
    assert (tmp_path / "runs" / "r" / JOB_FILE).exists()
    check_resume(TrainJobConfig(**{**base.__dict__, "epochs": base.epochs + 5}))  # more epochs: same run
    with pytest.raises(ValueError, match="objective"):
        check_resume(TrainJobConfig(**{**base.__dict__, "objective": "triplet"}))
    _delete_run(base)  # what --no-resume does
    assert not (tmp_path / "runs" / "r").exists()
    check_resume(TrainJobConfig(**{**base.__dict__, "objective": "triplet"}))


def test_train_cli_defaults_are_the_job_configs_and_flags_shape_the_model() -> None:
    from voxguard.cli import build_parser
    from voxguard.commands.train import _model

    parser = build_parser()
    args = parser.parse_args(["train", "--out", "x.vxpkg"])
    defaults = TrainJobConfig(manifest=Path("m.parquet"), out=Path("x.vxpkg"))
    for name in ("epochs", "batch_size", "lr", "patience", "num_workers", "cpus_per_worker", "objective", "seed"):
        assert getattr(args, name) == getattr(defaults, name), name
    assert _model(args) == defaults.model
    args = parser.parse_args(["train", "--out", "x.vxpkg", "--whisper-blocks", "3", "--pooling", "mean"])
    model = _model(args)
    assert (model.frontend.kind, model.frontend.whisper_blocks, model.encoder.pooling) == ("whisper", 3, "mean")
    with pytest.raises(SystemExit):
        _model(parser.parse_args(["train", "--out", "x.vxpkg", "--frontend", "logmel", "--whisper-blocks", "1"]))
    # The stats head: every layer's rows, no conv blocks ("" channels), pooled straight to the projection.
    model = _model(parser.parse_args(["train", "--out", "x.vxpkg", "--whisper-layers", "all", "--channels", ""]))
    assert (model.frontend.whisper_layers, model.encoder.channels) == ("all", ())
    assert _model(parser.parse_args(["train", "--out", "x.vxpkg", "--channels", "64,32"])).encoder.channels == (64, 32)
    with pytest.raises(SystemExit):
        _model(parser.parse_args(["train", "--out", "x.vxpkg", "--frontend", "logmel", "--whisper-layers", "all"]))
