"""Which dev-chosen operating point keeps its promise on families and pages the model never saw?

The threshold is fitted on the dev split, whose real recordings come from the same corpora (other
speakers) as training; unseen pages bring other microphones, rooms and speakers, so their real
recordings score lower and a threshold that rejects 5 % of dev's real clips rejects more of theirs.
This reads a leave-family-out run (`jobs.evaluate.families`: each fold's package keeps its dev scores
in its card, each fold's held-out scores are in `scores.csv`) and, for several rules, puts the
threshold where the rule puts it on that fold's dev scores and counts what it does on the held-out
rows: bona fide false rejections overall and per bona fide corpus, and spoofs accepted. No training,
no scoring: seconds.

Usage: python -m jobs.evaluate.operating_points --run var/eval-families --manifest var/corpus/manifest.parquet
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.evaluate.families import MIN_CORPUS_CLIPS, fold_dir_name
from siamese.calibration import Calibration, OperatingMethod, choose_operating_point
from siamese.package_meta import read_meta_without_torch


@dataclass(frozen=True)
class Rule:
    """A way to put the threshold on dev scores."""

    name: str
    method: OperatingMethod
    target_frr: float = 0.05

    def threshold(self, scores: np.ndarray, labels: np.ndarray) -> float:
        """Where `choose_operating_point` (what training uses) puts it; the calibration plays no part."""
        point = choose_operating_point(scores, labels, Calibration(1.0, 0.0), method=self.method,
                                       abstain_llr_margin=0.0, target_frr=self.target_frr)
        return point.threshold


RULES = (Rule("cost model (P(spoof) 0.05, C_fa 10)", "cost"), Rule("dev EER", "eer"),
         Rule("dev FRR 10 %", "frr", 0.10), Rule("dev FRR 5 %", "frr", 0.05),
         Rule("dev FRR 2 %", "frr", 0.02), Rule("dev FRR 0 % (lowest dev real score)", "frr", 0.0))


def dev_scores(package: Path) -> tuple[np.ndarray, np.ndarray]:
    """The dev-split clip scores a package's card keeps (all of them below the card's cap)."""
    lists = read_meta_without_torch(package).metrics["dev"]["score_lists"]
    bona, spoof = np.asarray(lists["bonafide"], float), np.asarray(lists["spoof"], float)
    return np.r_[bona, spoof], np.r_[np.ones(len(bona)), np.zeros(len(spoof))]


def held_out(fold_dir: Path, corpus_of: dict[str, str]) -> pd.DataFrame:
    """A fold's held-out scores with each bona fide clip's corpus."""
    rows = pd.read_csv(fold_dir / "scores.csv")
    return rows.assign(corpus=[corpus_of.get(p, "") for p in rows["path"]])


def apply(rule: Rule, dev: tuple[np.ndarray, np.ndarray], rows: pd.DataFrame) -> dict[str, float]:
    """FRR, FAR and the worst FRR over corpora with enough real clips, at the rule's dev threshold."""
    threshold = rule.threshold(*dev)
    bona = (rows["label"] == "bonafide").to_numpy()
    scores = rows["score"].to_numpy()
    per_corpus = {c: float(np.mean(scores[bona & (rows["corpus"] == c).to_numpy()] < threshold))
                  for c, n in rows.loc[bona, "corpus"].value_counts().items() if n >= MIN_CORPUS_CLIPS}
    return {"frr": float(np.mean(scores[bona] < threshold)), "far": float(np.mean(scores[~bona] >= threshold)),
            "dev_frr": float(np.mean(dev[0][dev[1] == 1] < threshold)),
            "worst_corpus_frr": max(per_corpus.values()) if per_corpus else float("nan"),
            **{f"frr:{c}": v for c, v in per_corpus.items()}}


def evaluate_run(run: Path, manifest: Path) -> pd.DataFrame:
    """One row per (rule, fold, seed) of a leave-family-out run."""
    frame = pd.read_parquet(manifest, columns=["path", "corpus"])
    corpus_of = dict(zip(frame["path"], frame["corpus"].fillna("").astype(str), strict=True))
    results = json.loads((run / "families.json").read_text())["results"]
    out = []
    for result in results:
        fold_dir = run / fold_dir_name(result["fold"], result["seed"])
        if not (fold_dir / "model.vxpkg").exists():
            continue
        dev, rows = dev_scores(fold_dir / "model.vxpkg"), held_out(fold_dir, corpus_of)
        for rule in RULES:
            out.append({"rule": rule.name, "fold": result["fold"], "seed": result["seed"], **apply(rule, dev, rows)})
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame) -> str:
    """Per rule: mean over folds and seeds of dev FRR, held-out FRR, worst corpus FRR, FAR; then per fold."""
    lines = ["| rule (on each fold's dev split) | dev FRR % | held-out FRR % (mean / worst fold) | "
             f"worst corpus FRR % (≥ {MIN_CORPUS_CLIPS} real clips) | spoofs accepted % |", "|---|---|---|---|---|"]
    for rule in RULES:
        part = table[table["rule"] == rule.name]
        if part.empty:
            continue
        per_fold = part.groupby("fold")[["frr"]].mean()
        lines.append(f"| {rule.name} | {100 * part['dev_frr'].mean():.1f} | {100 * part['frr'].mean():.1f} / "
                     f"{100 * per_fold['frr'].max():.1f} | {100 * part['worst_corpus_frr'].max():.1f} | "
                     f"{100 * part['far'].mean():.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: read a leave-family-out run, print and write the rule table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="output folder of `jobs.evaluate.families`")
    p.add_argument("--manifest", type=Path, required=True, help="the corpus manifest it ran on (for the corpora)")
    args = p.parse_args(argv)
    table = evaluate_run(args.run, args.manifest)
    if table.empty:
        raise SystemExit(f"no fold with a model and scores under {args.run}")
    text = markdown(table)
    (args.run / "operating-points.md").write_text(text)
    table.to_csv(args.run / "operating-points.csv", index=False)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
