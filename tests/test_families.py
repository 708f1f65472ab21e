"""Leave-family-out protocol: fold invariants, and the runner end to end on a tiny two-family corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from jobs.evaluate.families import Fold, check_fold, default_folds, fold_frames, markdown, run_fold
from train_tiny import SR, _clip, tiny_model_config


def _frame() -> pd.DataFrame:
    rows = []
    for page, fam in (("p1", "vc"), ("p2", "codec-lm"), ("p3", "vc"), ("p4", "diffusion")):
        for i in range(3):
            rows.append({"path": f"{page}/real{i}", "label": "bonafide", "generator": "bonafide", "family": "bonafide",
                         "group": page, "split": "train", "augmentation": "", "corpus": "vctk"})
            rows.append({"path": f"{page}/fake{i}", "label": "spoof", "generator": f"{fam}-sys", "family": fam,
                         "group": page, "split": "dev" if i == 2 else "train", "augmentation": "", "corpus": ""})
            rows.append({"path": f"{page}/fake{i}-aug", "label": "spoof", "generator": f"{fam}-sys", "family": fam,
                         "group": page, "split": "train", "augmentation": "mp3", "corpus": ""})
    rows.append({"path": "base/glowtts-vc-waveglow", "label": "spoof", "generator": "glowtts-vc-waveglow",
                 "family": "dataset-spoof", "group": "", "split": "train", "augmentation": "", "corpus": ""})
    return pd.DataFrame(rows)


def test_fold_holds_out_families_with_their_pages_and_nothing_else() -> None:
    vc = next(f for f in default_folds() if f.name == "vc")
    training, evaluation = fold_frames(_frame(), vc)
    check_fold(training, evaluation, vc)
    assert set(evaluation.loc[evaluation["label"] == "spoof", "family"]) == {"vc", "dataset-spoof"}
    assert "base/glowtts-vc-waveglow" in set(evaluation["path"])  # named as VC though its family is coarse
    assert set(evaluation["group"]) - {""} == {"p1", "p3"}  # the pages of the held-out spoofs
    assert (evaluation["augmentation"] == "").all()
    assert set(training["group"]) == {"p2", "p4"}  # held-out pages leave training whole
    assert set(training["split"]) == {"train", "dev"}


def test_check_fold_catches_leaks() -> None:
    fold = Fold("vc", ("vc",))
    training, evaluation = fold_frames(_frame(), fold)
    leaked = pd.concat([training, evaluation.iloc[:1]], ignore_index=True)
    with pytest.raises(AssertionError):
        check_fold(leaked, evaluation, fold)


def _write_corpus(root: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for page, fam, gen in (("p1", "vc", 0), ("p2", "vc", 1), ("p3", "codec-lm", 2), ("p4", "codec-lm", 3)):
        for i in range(8):
            for label in ("bonafide", "spoof"):
                path = root / page / f"{label}{i}.flac"
                path.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(path, _clip(rng, label == "spoof", gen), SR, subtype="PCM_16")
                rows.append({"clip_id": f"{page}-{label}-{i}", "path": str(path), "label": label,
                             "generator": f"{fam}-{gen}" if label == "spoof" else "bonafide",
                             "family": fam if label == "spoof" else "bonafide", "speaker": f"{page}-spk",
                             "source": page, "language": "en", "split": "dev" if i >= 6 else "train",
                             "licence": "CC0", "origin": "synthetic", "augmentation": "", "duration_s": 1.0,
                             "group": page, "corpus": f"corpus-{page}" if label == "bonafide" else ""})
    return pd.DataFrame(rows)


def test_runner_trains_without_the_family_and_reports_it(tmp_path: Path) -> None:
    import ray

    frame = _write_corpus(tmp_path / "corpus")
    fold = Fold("vc", ("vc",))
    started = not ray.is_initialized()  # an earlier test may have left its Ray running
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = run_fold(fold, frame, tmp_path / "out", seed=0, train_args={
            "model": tiny_model_config(), "epochs": 2, "batch_size": 8, "batches_per_epoch": 6, "num_workers": 1,
            "cpus_per_worker": 1, "storage_path": str(tmp_path / "runs"), "cache_dir": tmp_path / "cache",
            "operating_point": "frr", "target_frr": 0.25})
    finally:
        if started:
            ray.shutdown()
    assert result["n_spoof"] == 16 and result["n_bonafide"] == 16  # both VC pages, clean clips
    assert set(result["per_system_eer"]) == {"vc-0", "vc-1"}
    assert 0.0 <= result["eer"] <= 1.0 and 0.0 <= result["frr"] <= 1.0
    trained_on = pd.read_parquet(tmp_path / "out" / "vc-seed0" / "train-manifest.parquet")
    assert set(trained_on["family"]) == {"bonafide", "codec-lm"}
    scores = pd.read_csv(tmp_path / "out" / "vc-seed0" / "scores.csv")
    assert len(scores) == 32 and scores["score"].notna().all()
    table = markdown([result])
    assert "| vc (vc) | 0 | 16 / 16 |" in table and "vc-1" in table

    # The fold's threshold keeps the dev promise; the operating-point report re-reads the run without scoring.
    from jobs.evaluate.operating_points import RULES, evaluate_run
    from siamese.package_meta import read_meta_without_torch

    assert read_meta_without_torch(tmp_path / "out" / "vc-seed0" / "model.vxpkg").operating_point.method == "frr"
    (tmp_path / "out" / "families.json").write_text(json.dumps({"results": [result]}, default=str))
    frame.to_parquet(tmp_path / "manifest.parquet", index=False)
    points = evaluate_run(tmp_path / "out", tmp_path / "manifest.parquet").set_index("rule")
    assert list(points.index) == [rule.name for rule in RULES]
    frr_rules = [rule for rule in RULES if rule.method == "frr"]
    for rule in frr_rules:
        assert points.loc[rule.name, "dev_frr"] <= rule.target_frr
    assert points.loc["dev FRR 0 % (lowest dev real score)", "dev_frr"] == 0.0
    # Looser targets reject at least as many held-out real clips and accept at most as many spoofs.
    ordered = points.loc[[rule.name for rule in sorted(frr_rules, key=lambda r: r.target_frr)]]
    assert ordered["frr"].is_monotonic_increasing and ordered["far"].is_monotonic_decreasing


def test_pairwise_auc_counts_pairs_where_the_edit_scores_lower() -> None:
    from jobs.evaluate.partial import pairwise_auc

    assert pairwise_auc([0.1, 0.2, 0.9], [0.5, 0.5, 0.5]) == pytest.approx(2 / 3)
    assert pairwise_auc([0.5], [0.5]) == 0.5
    assert np.isnan(pairwise_auc([], []))
