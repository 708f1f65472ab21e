"""Leave-family-out evaluation: train without whole synthesis families, test on exactly those.

A detector that only knows the generators it was trained on is worth little: new systems
appear every month. Each fold holds out whole families (by default the four the product
most needs to catch: codec LMs + codec resynthesis, voice conversion, flow matching +
diffusion, vocoder copy-synthesis), trains on everything else, and scores

* every clean clip of the held-out families (spoofs), and
* the bona fide clips of the *pages* (groups) those spoofs came from — real recordings of
  the same speakers and sentences, which stay out of training with everything else on
  those pages, so no matched pair straddles the split.

Usage: python -m jobs.evaluate.families --manifest var/corpus/all.parquet --out var/eval-families
(`make eval-families`). Writes `families.md` (the table) and `families.json` (all numbers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siamese.calibration import OPERATING_METHODS
from siamese.frontends import kinds as frontend_kinds

FOLDS: dict[str, tuple[str, ...]] = {
    "codec": ("codec-lm", "codec-resynthesis"),
    "vc": ("vc",),
    "flow+diffusion": ("flow-matching", "diffusion"),
    "vocoder": ("vocoder-copysynthesis", "vocoder-copy"),
}
# Spoofs whose family column is coarser than the fold's (ready-made dataset spoofs, named by
# system): held out with the fold when the generator's name says it belongs to it.
GENERATOR_PATTERNS: dict[str, str] = {
    "vc": r"(^|[-_])vc([-_]|$)",
    "vocoder": r"copy-?synthesis|(^|[-_])copy([-_]|$)",
}
MIN_CORPUS_CLIPS = 20
# Augmentations that keep a recording's band and coding: level changes and noise at 20 dB SNR or more
# (`--keep-augmentations`). The full set also band-limits, resamples and runs codecs, which erased
# cues shared across generators in the leave-family-out protocol (docs/model-card.md).
GENTLE_AUGMENTATIONS = r"(gain[+-]\d+dB|noise-[a-z]+-(20|25|30)dB)(\+(gain[+-]\d+dB|noise-[a-z]+-(20|25|30)dB))*"


@dataclass(frozen=True)
class Fold:
    """One leave-family-out fold."""

    name: str
    families: tuple[str, ...]
    generator_pattern: str = ""

    def holds(self, family: str, generator: str, label: str) -> bool:
        """True for a spoof of a held-out family (or a generator named as one)."""
        if label != "spoof":
            return False
        if family in self.families:
            return True
        return bool(self.generator_pattern) and re.search(self.generator_pattern, generator) is not None


def default_folds() -> list[Fold]:
    """The four folds named in the module docstring."""
    return [Fold(name, fams, GENERATOR_PATTERNS.get(name, "")) for name, fams in FOLDS.items()]


def _groups(frame: pd.DataFrame) -> pd.Series:
    """The split group of each row ("" for corpora without one, e.g. the built base corpus)."""
    if "group" not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index)
    return frame["group"].fillna("").astype(str)


def fold_frames(frame: pd.DataFrame, fold: Fold) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training manifest rows with train/dev splits, held-out evaluation rows) of one fold.

    Held out: spoofs of the fold's families and the bona fide clips of their pages; the
    other spoofs of those pages are left out of both sides. Everything else keeps its dev
    split (early stopping, calibration) and trains otherwise (the usual test split included:
    this protocol has its own test set).
    """
    groups = _groups(frame)
    held = np.array([fold.holds(f, g, lab) for f, g, lab in
                     zip(frame["family"].astype(str), frame["generator"].astype(str), frame["label"], strict=True)])
    pages = set(groups[held]) - {""}
    on_page = groups.isin(pages).to_numpy()
    evaluation = frame[(held | (on_page & (frame["label"] == "bonafide").to_numpy()))
                       & (frame["augmentation"].fillna("") == "").to_numpy()].copy()
    training = frame[~held & ~on_page].copy()
    training["split"] = ["dev" if s == "dev" else "train" for s in training["split"]]
    return training.reset_index(drop=True), evaluation.reset_index(drop=True)


def check_fold(training: pd.DataFrame, evaluation: pd.DataFrame, fold: Fold) -> None:
    """The invariants the numbers rely on; raises if one is broken."""
    leaked = [g for g, f, lab in zip(training["generator"], training["family"], training["label"], strict=True)
              if fold.holds(str(f), str(g), lab)]
    if leaked:
        raise AssertionError(f"fold {fold.name}: held-out generators in training: {sorted(set(leaked))[:5]}")
    if "group" in training.columns:
        shared = (set(training["group"]) & set(evaluation["group"])) - {""}
        if shared:
            raise AssertionError(f"fold {fold.name}: groups on both sides: {sorted(shared)[:5]}")
    shared_clips = set(training["path"]) & set(evaluation["path"])
    if shared_clips:
        raise AssertionError(f"fold {fold.name}: {len(shared_clips)} clips on both sides")


def evaluation_table(scores: np.ndarray, rows: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """EER [CI], minDCF, bona fide false rejections at the operating point, per system and per corpus."""
    from siamese import metrics

    labels = (rows["label"] == "bonafide").to_numpy().astype(np.int64)
    card = metrics.metrics_card(scores, labels, groups=list(rows["generator"]), threshold=threshold)
    bona = labels == 1
    corpus = rows.get("corpus", pd.Series([""] * len(rows))).fillna("").astype(str).to_numpy()
    frr_by_corpus = {}
    for name in sorted(set(corpus[bona])):
        mask = bona & (corpus == name)
        frr_by_corpus[name or "unknown"] = {"n": int(mask.sum()), "frr": float(np.mean(scores[mask] < threshold))}
    spoof = ~bona
    return {
        "n_bonafide": int(bona.sum()), "n_spoof": int(spoof.sum()),
        "eer": card["eer"], "eer_ci95": card["eer_ci95"], "min_dcf": card["min_dcf"], "roc_auc": card["roc_auc"],
        "frr": float(np.mean(scores[bona] < threshold)) if bona.any() else float("nan"),
        "far": float(np.mean(scores[spoof] >= threshold)) if spoof.any() else float("nan"),
        "per_system_eer": card.get("per_group_eer", {}),
        "frr_by_corpus": frr_by_corpus,
    }


def score_rows(package_path: Path, rows: pd.DataFrame, cache_dir: Path) -> tuple[np.ndarray, pd.DataFrame, float]:
    """Clip scores of `rows` with a package (decoded through the training cache); also its threshold."""
    import torch

    from jobs.train.data import decode_to_cache, rows_to_clipset
    from siamese.package import ModelPackage
    from siamese.training import clip_scores

    pkg = ModelPackage.load(package_path)
    rows = rows.copy()
    rows["group"] = _groups(rows)
    decoded, _ = decode_to_cache(rows.reset_index(drop=True), cache_dir, pkg.config.audio)
    scores = clip_scores(pkg.build_network(), rows_to_clipset(decoded), torch.device("cpu"))
    return scores, decoded, float(pkg.operating_point.threshold)


def fold_dir_name(fold: str, seed: int | str) -> str:
    """The folder of one fold and seed under a run's output (its package, training manifest and scores)."""
    return f"{re.sub(r'[^a-z0-9]+', '-', fold.lower())}-seed{seed}"


def run_fold(fold: Fold, frame: pd.DataFrame, out: Path, seed: int, train_args: dict[str, Any]) -> dict[str, Any]:
    """Train one fold (Ray Train, as `voxguard train` does) and evaluate it on its held-out rows."""
    from jobs.train.config import TrainJobConfig
    from jobs.train.trainer import train

    training, evaluation = fold_frames(frame, fold)
    check_fold(training, evaluation, fold)
    fold_dir = out / fold_dir_name(fold.name, seed)
    fold_dir.mkdir(parents=True, exist_ok=True)
    manifest = fold_dir / "train-manifest.parquet"
    training.drop(columns=["group"], errors="ignore").to_parquet(manifest, index=False)
    started = time.time()
    config = TrainJobConfig(manifest=manifest, out=fold_dir / "model.vxpkg", name=f"lofo-{fold_dir.name}",
                            resume=False, seed=seed, devset=None, verbose=False, **train_args)
    result = train(config)
    scores, rows, threshold = score_rows(result.package_path, evaluation, Path(config.cache_dir))
    table = evaluation_table(scores, rows, threshold)
    table.update({"fold": fold.name, "families": list(fold.families), "seed": seed,
                  "train_clips": int((training["split"] == "train").sum()), "wall_s": round(time.time() - started, 1),
                  "epochs_run": len(result.history)})
    pd.DataFrame({"path": rows["path"], "label": rows["label"], "generator": rows["generator"],
                  "score": scores}).to_csv(fold_dir / "scores.csv", index=False)
    return table


def score_fold(fold: Fold, frame: pd.DataFrame, out: Path, package: Path, cache_dir: Path) -> dict[str, Any]:
    """A fold's held-out rows scored by an existing package (no training): a baseline beside the folds.

    Fair only for a package that never saw these families (e.g. the model before the harvest).
    """
    _, evaluation = fold_frames(frame, fold)
    scores, rows, threshold = score_rows(package, evaluation, cache_dir)
    table = evaluation_table(scores, rows, threshold)
    table.update({"fold": fold.name, "families": list(fold.families), "seed": "-", "train_clips": 0,
                  "wall_s": 0.0, "epochs_run": 0, "package": str(package)})
    return table


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(results: Sequence[dict[str, Any]]) -> str:
    """The fold table, the mean over folds, then per held-out system and per bona fide corpus."""
    lines = ["| fold (held-out families) | seed | bona fide / spoof | EER % [95 % CI] | minDCF | AUC | FRR % at op. point | FAR % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lo, hi = r["eer_ci95"]
        lines.append(f"| {r['fold']} ({', '.join(r['families'])}) | {r['seed']} | {r['n_bonafide']} / {r['n_spoof']} "
                     f"| {_pct(r['eer'])} [{_pct(lo)}–{_pct(hi)}] | {r['min_dcf']:.3f} | {r['roc_auc']:.3f} "
                     f"| {_pct(r['frr'])} | {_pct(r['far'])} |")
    eers = [r["eer"] for r in results]
    if eers:
        lines += ["", f"Mean EER over folds: **{_pct(float(np.mean(eers)))} %**; worst fold: {_pct(max(eers))} %.", ""]
    lines += ["### Per held-out system (EER vs the fold's bona fide)", "", "| fold | system | EER % |", "|---|---|---|"]
    for r in results:
        for system, value in sorted(r["per_system_eer"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {r['fold']} | {system} | {_pct(value)} |")
    lines += ["", f"### Bona fide false rejections at the operating point (corpora with ≥ {MIN_CORPUS_CLIPS} clips)", "",
              "| fold | corpus | clips | FRR % |", "|---|---|---|---|"]
    for r in results:
        for name, v in r["frr_by_corpus"].items():
            if v["n"] >= MIN_CORPUS_CLIPS:
                lines.append(f"| {r['fold']} | {name} | {v['n']} | {_pct(v['frr'])} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="combined corpus manifest (.parquet)")
    parser.add_argument("--out", type=Path, default=Path("var/eval-families"))
    parser.add_argument("--folds", default=",".join(FOLDS), help=f"comma list of {', '.join(FOLDS)}")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batches-per-epoch", type=int, default=80)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--max-dev-clips", type=int, default=300)
    parser.add_argument("--cpus-per-worker", type=float, default=2.0)
    parser.add_argument("--frontend", choices=frontend_kinds(), default=None,
                        help="front-end of the design under test (default: the bundled model's)")
    parser.add_argument("--window-s", type=float, default=None, help="window length of the design under test")
    parser.add_argument("--whisper-blocks", type=int, default=None,
                        help="Whisper front-end: how many encoder blocks the design under test keeps")
    parser.add_argument("--whisper-layers", choices=("last", "all"), default=None,
                        help="Whisper front-end: the last block's rows or every layer's")
    parser.add_argument("--channels", default=None, help="encoder channels of the design under test, e.g. 128")
    parser.add_argument("--pooling", choices=("attentive", "mean"), default=None, help="encoder pooling")
    parser.add_argument("--objective", choices=("contrastive", "triplet", "oneclass"), default="contrastive",
                        help="training objective of the design under test")
    parser.add_argument("--whisper-weights", default=None, help="Whisper front-end: which weights (e.g. base)")
    parser.add_argument("--whisper-model-bin", default=None, help="Whisper front-end: their CTranslate2 model.bin")
    parser.add_argument("--drop-generator", action="append", default=[],
                        help="leave these generators' (regex) clips out of every fold's training")
    parser.add_argument("--clean-only", action="store_true",
                        help="train on the clean copies only (no augmented variants): the augmentation ablation")
    parser.add_argument("--keep-augmentations", default=None, metavar="REGEX",
                        help="train on the clean copies plus the augmented variants whose augmentation fully "
                             f"matches REGEX (e.g. the gentle set {GENTLE_AUGMENTATIONS!r}: gain and noise at "
                             "20 dB SNR or more, no band limits or codecs)")
    parser.add_argument("--operating-point", choices=OPERATING_METHODS, default="cost",
                        help="how each fold's threshold is chosen on its dev split (see `voxguard train`)")
    parser.add_argument("--target-frr", type=float, default=0.05,
                        help="with --operating-point frr: the share of dev's real recordings it may reject")
    parser.add_argument("--model", type=Path, default=None,
                        help="score each fold's held-out set with this package instead of training (a baseline)")
    parser.add_argument("--imported-test", action="store_true",
                        help="with --model: score the clean test-split clips of the imported corpora (rows with a "
                             "group) instead of the folds")
    args = parser.parse_args(argv)

    from jobs.train.config import TrainJobConfig, default_model_config

    model = default_model_config()
    if args.frontend:
        model = model.with_frontend(args.frontend)
    if args.window_s:
        model = model.replace(audio={"window_s": args.window_s, "hop_s": args.window_s / 2})
    whisper = {name: value for name, value in (("whisper_blocks", args.whisper_blocks),
                                                ("whisper_weights", args.whisper_weights),
                                                ("whisper_layers", args.whisper_layers),
                                                ("whisper_model_bin", args.whisper_model_bin)) if value is not None}
    if whisper:
        model = model.replace(frontend=whisper)
    encoder = {name: value for name, value in (
        ("channels", tuple(int(c) for c in args.channels.split(",") if c) if args.channels is not None else None),
        ("pooling", args.pooling)) if value is not None}
    if encoder:
        model = model.replace(encoder=encoder)
    frame = pd.read_parquet(args.manifest)
    for pattern in args.drop_generator:
        frame = frame[~((frame["label"] == "spoof") & frame["generator"].astype(str).str.contains(pattern))]
    if args.clean_only:  # held-out rows are clean copies anyway: this changes the training side only
        frame = frame[frame["augmentation"].fillna("") == ""]
    elif args.keep_augmentations:
        augmentation = frame["augmentation"].fillna("")
        frame = frame[(augmentation == "") | augmentation.str.fullmatch(args.keep_augmentations)]
    chosen = [f for f in default_folds() if f.name in args.folds.split(",")]
    train_args = {"model": model, "epochs": args.epochs, "batches_per_epoch": args.batches_per_epoch,
                  "patience": args.patience, "max_dev_clips": args.max_dev_clips, "num_workers": 1,
                  "cpus_per_worker": args.cpus_per_worker, "objective": args.objective,
                  "operating_point": args.operating_point, "target_frr": args.target_frr}
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    if args.model is not None and args.imported_test:
        cache_dir = TrainJobConfig(manifest=args.manifest, out=args.out / "x").cache_dir
        rows = frame[(frame["split"] == "test") & (frame["augmentation"].fillna("") == "") & (_groups(frame) != "")]
        scores, scored, threshold = score_rows(args.model, rows.reset_index(drop=True), cache_dir)
        table = {**evaluation_table(scores, scored, threshold), "fold": "imported test split", "families": ["all"],
                 "seed": "-"}
        (args.out / "imported-test.json").write_text(json.dumps(table, indent=1, default=str))
        print(markdown([table]))
        return 0
    if args.model is not None:
        cache_dir = TrainJobConfig(manifest=args.manifest, out=args.out / "x").cache_dir
        results = [score_fold(fold, frame, args.out, args.model, cache_dir) for fold in chosen]
        (args.out / "families.md").write_text(markdown(results))
        (args.out / "families.json").write_text(json.dumps({"model": str(args.model), "results": results},
                                                           indent=1, default=str))
        print(markdown(results))
        return 0
    for seed in (int(s) for s in args.seeds.split(",")):
        for fold in chosen:
            result = run_fold(fold, frame, args.out, seed, train_args)
            results.append(result)
            print(f"[families] {fold.name} seed {seed}: EER {_pct(result['eer'])} % "
                  f"FRR {_pct(result['frr'])} % ({result['wall_s']:.0f} s)", flush=True)
            (args.out / "families.json").write_text(json.dumps(
                {"design": dataclasses.asdict(model), "args": {k: str(v) for k, v in vars(args).items()},
                 "results": results}, indent=1, default=str))
    (args.out / "families.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
