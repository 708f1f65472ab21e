"""Ablation: short training runs that change one design choice each, scored on the
cross-corpus devset and the corpus test split; writes a Markdown table.

Usage: python -m jobs.evaluate.ablation --manifest var/corpus/manifest.parquet --out var/ablation

The Mahalanobis variant re-uses the baseline's weights: with the identity
precision used during training, Mahalanobis scores are exactly twice the
cosine scores, so training it again would repeat the baseline run; only the
precision fitted on bona fide training embeddings afterwards differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from jobs.train.config import TrainJobConfig, default_model_config
from jobs.train.data import rows_to_clipset
from jobs.train.trainer import prepare_data, train
from siamese.package import ModelPackage
from siamese.training import evaluate, fit_mahalanobis

# name -> (changed config section, changes); objective is a job field, the rest model sections
# ("model": {section: changes} for a combination).
VARIANTS: dict[str, tuple[str, dict]] = {
    "baseline": ("", {}),
    "objective=triplet": ("job", {"objective": "triplet"}),
    "objective=oneclass": ("job", {"objective": "oneclass"}),
    "frontend=loglinear": ("frontend", {"kind": "loglinear"}),
    "frontend=logmel": ("frontend", {"kind": "logmel"}),
    "frontend=lfcc": ("frontend", {"kind": "lfcc"}),
    "whisper_blocks=2": ("frontend", {"whisper_blocks": 2}),
    "whisper_blocks=4": ("frontend", {"whisper_blocks": 4}),
    "masking=on": ("frontend", {"time_masks": 2, "feature_masks": 2}),
    "pooling=attentive": ("encoder", {"pooling": "attentive"}),
    # The previous bundled design's encoder: 2 x 256-channel 1-D conv blocks over the frames.
    "encoder=conv": ("encoder", {"channels": (256, 256)}),
    "whisper_layers=last": ("frontend", {"whisper_layers": "last"}),
    "whisper_blocks=2+pooling=attentive": ("model", {"frontend": {"whisper_blocks": 2},
                                                      "encoder": {"pooling": "attentive"}}),
    "comparison=euclidean": ("comparison", {"kind": "euclidean"}),
    "comparison=mahalanobis": ("derived", {}),
    "augmentation=off": ("job", {"augmentation": False}),
}


def variant_config(base: TrainJobConfig, name: str, out_dir: Path) -> TrainJobConfig:
    """`base` with one design choice changed."""
    section, changes = VARIANTS[name]
    safe = name.replace("=", "-")
    config = dataclasses.replace(base, out=out_dir / f"{safe}.vxpkg", name=f"ablation-{safe}", resume=False)
    if section == "job":
        return dataclasses.replace(config, **changes)
    if section == "frontend" and "kind" in changes:  # the encoder follows the front-end (1-D / 2-D)
        return dataclasses.replace(config, model=config.model.with_frontend(changes["kind"]))
    if section in ("frontend", "encoder", "comparison"):
        return dataclasses.replace(config, model=config.model.replace(**{section: changes}))
    if section == "model":  # several sections at once
        return dataclasses.replace(config, model=config.model.replace(**changes))
    return config


def mahalanobis_from(baseline: Path, config: TrainJobConfig) -> ModelPackage:
    """Baseline weights with the Mahalanobis comparison fitted on training bona fide embeddings."""
    pkg = ModelPackage.load(baseline)
    model = pkg.config.replace(comparison={"kind": "mahalanobis"})
    pkg = dataclasses.replace(pkg, config=model, version="")
    network = pkg.build_network()
    data = prepare_data(config)
    device = torch.device("cpu")
    fit_mahalanobis(network, rows_to_clipset(data["train"].drop_duplicates("cache")), device)
    from siamese.training import package_model

    new = package_model(network, rows_to_clipset(data["dev"]), rows_to_clipset(data["test"]),
                        list(data["train"]["clip_id"]), dict(pkg.training), device)
    if "devset" in data:
        new.metrics["devset"] = evaluate(network, rows_to_clipset(data["devset"]), new.calibration,
                                         new.operating_point, device)
    return new


def table(rows: list[dict]) -> str:
    """Markdown table of the ablation results: one row per variant; with several seeds, the mean and
    (in brackets) the range over seeds, which is the noise a difference must beat."""
    lines = [
        "| Variant | Seeds | Devset EER | Test EER | Dev EER | Test minDCF | Epochs | Wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_variant: dict[str, list[dict]] = {}
    for r in rows:
        by_variant.setdefault(r["variant"], []).append(r)

    def cell(runs: list[dict], key: str, percent: bool = True) -> str:
        values = [r[key] for r in runs if r[key] is not None]
        if not values:
            return "n/a"
        scale, unit, digits, range_digits = (100.0, "%", 2, 1) if percent else (1.0, "", 4, 3)
        text = f"{scale * sum(values) / len(values):.{digits}f}{unit}"
        if len(values) > 1:
            text += f" ({scale * min(values):.{range_digits}f}–{scale * max(values):.{range_digits}f})"
        return text

    for name, runs in by_variant.items():
        lines.append(f"| {name} | {len(runs)} | {cell(runs, 'devset_eer')} | {cell(runs, 'test_eer')} "
                     f"| {cell(runs, 'dev_eer')} | {cell(runs, 'test_min_dcf', percent=False)} "
                     f"| {max(r['epochs'] or 0 for r in runs)} | {sum(r['wall_s'] for r in runs) / len(runs):.0f} |")
    return "\n".join(lines) + "\n"


def _row(name: str, seed: int, pkg: ModelPackage, wall: float) -> dict:
    m = pkg.metrics
    return {
        "variant": name,
        "seed": seed,
        "devset_eer": m.get("devset", {}).get("eer"),
        "test_eer": m["test"]["eer"],
        "dev_eer": m["dev"]["eer"],
        "test_min_dcf": m["test"]["min_dcf"],
        "epochs": pkg.training.get("epochs_run"),
        "wall_s": wall,
        "version": pkg.version,
    }


def run(base: TrainJobConfig, out_dir: Path, names: list[str], seeds: list[int] | None = None) -> list[dict]:
    """Train each variant once per seed (baseline first when Mahalanobis is asked for); append rows to
    out_dir/ablation.jsonl and rewrite out_dir/ablation.md after each run. Packages of several seeds
    go to out_dir/seed-N/."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = seeds or [base.seed]
    rows: list[dict] = []
    results_file = out_dir / "ablation.jsonl"
    for seed in seeds:
        seed_dir = out_dir / f"seed-{seed}" if len(seeds) > 1 else out_dir
        for name in names:
            started = time.time()
            config = dataclasses.replace(variant_config(base, name, seed_dir), seed=seed)
            if VARIANTS[name][0] == "derived":
                pkg = mahalanobis_from(seed_dir / "baseline.vxpkg", config)
                pkg.save(config.out)
            else:
                pkg = ModelPackage.load(train(config).package_path)
            rows.append(_row(name, seed, pkg, time.time() - started))
            with results_file.open("a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
            (out_dir / "ablation.md").write_text(table(rows))
            print(table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """CLI: short runs of every variant (or --only a,b), Markdown table to OUT/ablation.md."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("var/ablation"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batches-per-epoch", type=int, default=40)
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument("--cpus-per-worker", type=float, default=1.0, help="also the worker's torch threads")
    p.add_argument("--max-eval-clips", type=int, default=400)
    p.add_argument("--only", default="", help="comma-separated variant names")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds; several show the noise")
    p.add_argument("--storage-path", default=None)
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")
    if "comparison=mahalanobis" in names and "baseline" not in names:
        names.insert(0, "baseline")
    base = TrainJobConfig(
        manifest=args.manifest, out=args.out / "x.vxpkg", model=default_model_config(), epochs=args.epochs,
        batches_per_epoch=args.batches_per_epoch, num_workers=args.num_workers, patience=args.epochs,
        cpus_per_worker=args.cpus_per_worker,
        max_dev_clips=args.max_eval_clips, max_test_clips=args.max_eval_clips, verbose=False,
        **({"storage_path": args.storage_path} if args.storage_path else {}),
    )
    run(base, args.out, names, [int(x) for x in args.seeds.split(",") if x])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
