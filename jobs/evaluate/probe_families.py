"""Leave-family-out linear probe: which frozen Whisper layer carries evidence that transfers to unseen families?

The CNN's leave-family-out protocol (`jobs.evaluate.families`) costs ~30 min per design on 2 cores, so
choosing a front-end layer by training CNNs is slow. A linear probe answers the narrower question
cheaply: for each layer (log-mel, conv stem, each transformer block, all layers together) every clean
clip becomes the mean and standard deviation of that layer over time, once; then for each fold a
logistic regression is trained on the fold's training rows (exactly the rows `families.fold_frames`
gives the CNN, clean copies only), its regularisation chosen on the fold's dev rows, and scored on the
fold's held-out families and their pages' real recordings. The cross-corpus devset is scored by a probe
trained on all training rows (reported, never used for a choice).

A probe that transfers better than the trained CNN says the CNN overfits what it is given, not that the
features lack the evidence.

Usage: python -m jobs.evaluate.probe_families --manifest var/corpus/manifest.parquet --out var/probe-families
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from jobs.evaluate.families import default_folds, fold_frames
from jobs.evaluate.probe import Extractor, extract_all, fit_and_score, spectral_stats, whisper_layer_stats
from jobs.train.config import REPO_ROOT

ALL_LAYERS = "all Whisper layers (concatenated)"
BUNDLED_LAYERS = ("Whisper conv stem", "Whisper block 1")  # what the bundled design computes


def clean_clips(manifest: Path, devset: Path | None) -> pd.DataFrame:
    """Every clean (not augmented) corpus clip, plus the devset (split 'devset')."""
    frame = pd.read_parquet(manifest)
    clean = frame[frame["augmentation"].fillna("") == ""].reset_index(drop=True)
    if devset is not None and (devset / "manifest.csv").exists():
        d = pd.read_csv(devset / "manifest.csv")
        d = d.assign(path=[str(devset / p) for p in d.path], split="devset", generator=d.system,
                     family="devset", augmentation="")
        clean = pd.concat([clean, d[["path", "label", "split", "generator", "family", "augmentation"]]],
                          ignore_index=True)
    return clean


def extract(table: pd.DataFrame, max_seconds: float, cache: Path, model_bin: Path | None = None,
            weights: str = "tiny.en", extractor: Extractor | None = None) -> dict[str, np.ndarray]:
    """Per-layer feature matrices aligned with `table` (cached in `cache` as .npz, keyed by path list).

    The extractor defaults to every layer of the Whisper encoder.
    """
    if cache.exists():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["paths"]) == list(table["path"]):
            return {name: stored[f"layer{i}"] for i, name in enumerate(json.loads(str(stored["names"])))}
    features = extract_all(table, [extractor or whisper_layer_stats(max_seconds, model_bin, weights)])
    names = list(features)
    np.savez(cache, paths=np.array(table["path"], dtype=str), names=json.dumps(names),
             **{f"layer{i}": features[n] for i, n in enumerate(names)})
    return features


def with_spectral(table: pd.DataFrame, max_seconds: float, cache: Path,
                  whisper: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The linear-frequency feature sets, alone and joined to the bundled design's layers and to all layers."""
    spectral = extract(table, max_seconds, cache, extractor=spectral_stats(max_seconds))
    bundled = np.concatenate([whisper[n] for n in BUNDLED_LAYERS], axis=1)
    joined = {}
    for name, x in spectral.items():
        joined[name] = x
        joined[f"stem + block 1 + {name}"] = np.concatenate([bundled, x], axis=1)
        joined[f"all Whisper layers + {name}"] = np.concatenate([whisper[ALL_LAYERS], x], axis=1)
    return joined


def _fit(x: np.ndarray, bona: np.ndarray, train: np.ndarray, dev: np.ndarray,
         targets: dict[str, np.ndarray]) -> dict[str, float]:
    """`probe.fit_and_score` with looser convergence: 5 layer sets x 4 folds x 4 C values of fits."""
    return fit_and_score(x, bona, train, dev, targets, max_iter=1000, tol=1e-3)


def fold_masks(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{fold: (train, dev, held-out)} row masks over `table`: the CNN protocol's rows (clean copies).

    Rows of split 'devset' never enter a fold.
    """
    corpus = table[table["split"] != "devset"]
    index = pd.Series(np.arange(len(table)), index=table["path"])
    masks = {}
    for fold in default_folds():
        training, evaluation = fold_frames(corpus, fold)
        train, dev, held = (np.zeros(len(table), bool) for _ in range(3))
        train[index[training.loc[training["split"] == "train", "path"]].to_numpy()] = True
        dev[index[training.loc[training["split"] == "dev", "path"]].to_numpy()] = True
        held[index[evaluation["path"]].to_numpy()] = True
        masks[fold.name] = (train, dev, held)
    return masks


def run(table: pd.DataFrame, features: dict[str, np.ndarray]) -> dict[str, dict[str, dict[str, float]]]:
    """{layer: {fold or 'devset': result}}."""
    bona_all = (table["label"] == "bonafide").to_numpy().astype(int)
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in features}
    for fold, (train, dev, held) in fold_masks(table).items():
        for name, x in features.items():
            results[name][fold] = _fit(x, bona_all, train, dev, {"held-out": held})
            print(f"[probe-families] {fold:16s} {name:38s} EER {100 * results[name][fold]['held-out']:.1f} %",
                  flush=True)
    split = table["split"].to_numpy()
    for name, x in features.items():
        r = _fit(x, bona_all, split == "train", split == "dev", {"devset": split == "devset",
                                                                           "test": split == "test"})
        results[name]["all families"] = r
    return results


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """One row per layer: each fold's held-out EER, their mean and worst, then test and devset."""
    folds = [f.name for f in default_folds()]
    lines = ["| frozen layer (mean+std, linear probe) | " + " | ".join(folds) + " | mean | worst | test | devset |",
             "|---|" + "---|" * (len(folds) + 4)]
    for name, per in results.items():
        eers = [per[f]["held-out"] for f in folds if "held-out" in per.get(f, {})]
        overall = per.get("all families", {})
        cells = [f"{100 * per[f]['held-out']:.1f}" if "held-out" in per.get(f, {}) else "n/a" for f in folds]
        cells += [f"{100 * np.mean(eers):.1f}", f"{100 * max(eers):.1f}"] if eers else ["n/a", "n/a"]
        cells += [f"{100 * overall[k]:.1f}" if k in overall else "n/a" for k in ("test", "devset")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: extract once (cached), probe every layer on every fold, print and write the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--devset", type=Path, default=REPO_ROOT.parent / "shared" / "devset")
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--out", type=Path, default=Path("var/probe-families"))
    p.add_argument("--whisper-weights", default="tiny.en", help="which Whisper weights the layers come from")
    p.add_argument("--whisper-model-bin", type=Path, default=None,
                   help="their CTranslate2 model.bin (default: the installed tiny.en)")
    p.add_argument("--spectral", action="store_true",
                   help="also probe LFCC and the log power spectrum, alone and joined to Whisper's layers")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # one core: on a shared machine oversubscribed threads only spin
    args.out.mkdir(parents=True, exist_ok=True)
    table = clean_clips(args.manifest, args.devset if args.devset.exists() else None)
    features = extract(table, args.max_seconds, args.out / "features.npz", args.whisper_model_bin,
                       args.whisper_weights)
    whisper_layers = [n for n in features if n.startswith("Whisper")]
    features[ALL_LAYERS] = np.concatenate([features[n] for n in whisper_layers], axis=1)
    if args.spectral:
        features.update(with_spectral(table, args.max_seconds, args.out / "spectral.npz", features))
    results = run(table, features)
    table_md = markdown(results)
    (args.out / "probe-families.md").write_text(table_md)
    (args.out / "probe-families.json").write_text(json.dumps(results, indent=1))
    print(table_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
