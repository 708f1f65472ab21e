"""Leave-family-out test of the back-end alone: which objective keeps what the frozen features carry?

The linear probe (`jobs.evaluate.probe_families`) transfers to unseen families better than the trained
Siamese CNN on the same Whisper layers (36.6 % vs 43.6 % mean EER, docs/model-card.md). Between the two
lie three differences: the objective (contrastive pairs + prototypes vs logistic loss), the capacity
(conv blocks vs one linear map) and model choice (early stopping on a dev split of the training
families). This tool isolates the first and the third in seconds instead of 30 min per design: on the
probe's cached clip features (mean and standard deviation of every layer over time), each fold trains
the product's *head* — a linear embedding (BatchNorm, L2-normalised) compared by cosine with learned
bona fide / spoof prototypes (`siamese.network.ReferenceBank`) — with each objective of
`siamese.losses`, on exactly the rows the CNN protocol trains on, and scores the held-out families and
their pages' real recordings. Each cell is the mean over seeds (their spread is reported too).

Model choice, two ways: "dev" keeps the step with the best EER on the fold's dev rows (training
families, as `voxguard train` does); "fixed" trains a fixed number of steps and keeps the last.

Usage: python -m jobs.evaluate.head_families --features var/probe-families/features.npz \
    --manifest var/corpus/manifest.parquet --out var/head-families [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from jobs.evaluate.families import default_folds
from jobs.evaluate.probe import fit_and_score
from jobs.evaluate.probe_families import clean_clips, fold_masks
from siamese.config import ComparisonConfig
from siamese.losses import make_objective
from siamese.metrics import eer
from siamese.network import ReferenceBank


@dataclass(frozen=True)
class HeadPlan:
    """How one head is trained."""

    objective: str = "contrastive"
    steps: int = 600
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-3
    choose_on_dev: bool = True
    check_every: int = 50
    embedding_dim: int = 128


class Head(nn.Module):
    """Standardised features -> linear embedding (BatchNorm, L2-normalised), as the encoder's projection."""

    def __init__(self, dim: int, embedding_dim: int) -> None:
        super().__init__()
        self.projection = nn.Sequential(nn.Linear(dim, embedding_dim), nn.BatchNorm1d(embedding_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(x), dim=-1)


def train_head(z: np.ndarray, bona: np.ndarray, train: np.ndarray, dev: np.ndarray, plan: HeadPlan,
               seed: int) -> np.ndarray:
    """Scores (higher = more bona fide) of every row by a head trained on the `train` rows."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(z.astype(np.float32))
    head = Head(z.shape[1], plan.embedding_dim)
    bank = ReferenceBank(ComparisonConfig(), plan.embedding_dim)
    objective = make_objective(plan.objective)
    optimiser = torch.optim.AdamW([*head.parameters(), *bank.parameters()], lr=plan.lr,
                                  weight_decay=plan.weight_decay)
    real, fake = np.flatnonzero(train & (bona == 1)), np.flatnonzero(train & (bona == 0))

    def score_all() -> np.ndarray:
        head.eval()
        with torch.no_grad():
            out = bank.score(head(x)).numpy()
        head.train()
        return out

    best: tuple[float, np.ndarray] | None = None
    for step in range(1, plan.steps + 1):
        # Balanced batches: half bona fide, half spoof (the training sampler's rule).
        rows = np.concatenate([rng.choice(real, plan.batch // 2), rng.choice(fake, plan.batch // 2)])
        labels = torch.from_numpy(bona[rows].astype(np.int64))
        loss = objective(head(x[rows]), labels, bank)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if plan.choose_on_dev and step % plan.check_every == 0:
            scores = score_all()
            dev_eer = eer(scores[dev], bona[dev])[0]
            if best is None or dev_eer < best[0]:
                best = (dev_eer, scores)
    return best[1] if best is not None else score_all()


def designs() -> dict[str, HeadPlan | None]:
    """The back-ends compared (None: the logistic-regression probe)."""
    return {
        "logistic regression (probe)": None,
        "head, contrastive, dev-chosen (the product's objective and rule)": HeadPlan("contrastive"),
        "head, contrastive, fixed 600 steps": HeadPlan("contrastive", choose_on_dev=False),
        "head, one-class softmax, dev-chosen": HeadPlan("oneclass"),
        "head, one-class softmax, fixed 600 steps": HeadPlan("oneclass", choose_on_dev=False),
        "head, triplet, dev-chosen": HeadPlan("triplet"),
    }


def run(table: pd.DataFrame, x: np.ndarray, seeds: list[int],
        plans: dict[str, HeadPlan | None] | None = None) -> dict[str, dict[str, list[float]]]:
    """{design: {fold: [held-out EER per seed]}} for `plans` (default: `designs()`)."""
    plans = designs() if plans is None else plans
    bona = (table["label"] == "bonafide").to_numpy().astype(int)
    results: dict[str, dict[str, list[float]]] = {name: {} for name in plans}
    for fold, (train, dev, held) in fold_masks(table).items():
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        z = (x - mean) / std
        for name, plan in plans.items():
            if plan is None:
                results[name][fold] = [fit_and_score(x, bona, train, dev, {"held": held}, max_iter=1000,
                                                     tol=1e-3)["held"]]
            else:
                results[name][fold] = [eer(train_head(z, bona, train, dev, plan, s)[held], bona[held])[0]
                                       for s in seeds]
            print(f"[head-families] {fold:15s} {name:66s} EER {100 * np.mean(results[name][fold]):.1f} %",
                  flush=True)
    return results


def markdown(results: dict[str, dict[str, list[float]]]) -> str:
    """Mean held-out EER per fold (± spread over seeds), then mean and worst over folds."""
    folds = [f.name for f in default_folds()]
    lines = ["| back-end on the frozen features | " + " | ".join(folds) + " | mean | worst |",
             "|---|" + "---|" * (len(folds) + 2)]
    for name, per in results.items():
        means = [float(np.mean(per[f])) for f in folds]
        cells = [f"{100 * np.mean(per[f]):.1f}" + (f" ± {100 * np.std(per[f]):.1f}" if len(per[f]) > 1 else "")
                 for f in folds]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * np.mean(means):.1f} | {100 * max(means):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: load the probe's cached features, train every head on every fold, print and write the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=Path, required=True, help="features.npz written by probe_families")
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("var/head-families"))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--layers", type=int, default=None,
                   help="use the conv stem and the first N blocks only (default: every Whisper layer cached)")
    p.add_argument("--only", default=None, help="comma list of design names' first words to run (e.g. logistic,head)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    stored = np.load(args.features, allow_pickle=False)
    names = json.loads(str(stored["names"]))
    whisper = [i for i, n in enumerate(names) if n.startswith("Whisper")]
    if args.layers is not None:
        whisper = whisper[: args.layers + 1]  # the stem, then blocks 1..N
    print(f"[head-families] layers: {', '.join(names[i] for i in whisper)}", flush=True)
    x = np.concatenate([stored[f"layer{i}"] for i in whisper], axis=1)
    table = clean_clips(args.manifest, None)
    paths = list(stored["paths"])
    keep = table["path"].isin(set(paths)).to_numpy()
    if not keep.all() or len(table) > len(paths):
        raise SystemExit("error: the features were extracted from another manifest; run probe_families again")
    order = pd.Series(np.arange(len(paths)), index=paths)[table["path"]].to_numpy()
    plans = designs()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        plans = {name: plan for name, plan in plans.items() if any(name.startswith(w) for w in wanted)}
    results = run(table, x[order], [int(s) for s in args.seeds.split(",")], plans)
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (args.out / "head-families.md").write_text(text)
    (args.out / "head-families.json").write_text(json.dumps(results, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
