"""Partial fakes: does the worst segment of an edited recording look worse than its original's?

A partially edited clip (real speech with a few synthetic words spliced in) is mostly real,
so its clip score says little; the per-segment timeline is what should catch it. This
scores each edited clip and its original recording with segment output and reports the
pairwise AUC of the worst (lowest) segment score: the share of pairs in which the edited
clip's worst segment scores below the original's (ties count half). 0.5 = no localisation
signal, 1.0 = the edit always shows.

Usage: python -m jobs.evaluate.partial --pairs ../shared/harvest/partial.csv --audio-root DIR --model PKG
(`make eval-partial`). The pairs CSV has path, role (edited | original), pair_id and system.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def pairwise_auc(edited: list[float], original: list[float]) -> float:
    """P(edited < original) over matched pairs, ties counted half."""
    e, o = np.asarray(edited), np.asarray(original)
    return float(np.mean((e < o) + 0.5 * (e == o))) if len(e) else float("nan")


def evaluate_pairs(pairs: pd.DataFrame, audio_root: Path, model: Path) -> dict[str, Any]:
    """Worst-segment and clip scores per pair, pairwise AUCs overall and per edit system."""
    from siamese.detector import Detector

    detector = Detector.from_package(model)
    worst: dict[str, dict[str, float]] = defaultdict(dict)
    clip: dict[str, dict[str, float]] = defaultdict(dict)
    flagged: dict[str, list[bool]] = defaultdict(list)
    system_of: dict[str, str] = {}
    errors = []
    for row in pairs.itertuples(index=False):
        result = detector.score(str(audio_root / row.path))
        if result.error:
            errors.append(f"{row.path}: {result.error}")
            continue
        role = "edited" if row.role == "edited" else "original"
        # A pair may have several edits of one original: key edits by their path.
        key = row.pair_id if role == "original" else f"{row.pair_id}|{row.path}"
        worst[role][key] = min(s.score for s in result.segments)
        clip[role][key] = float(result.score)
        flagged[role].append(bool(result.flagged))
        if role == "edited":
            system_of[key] = row.system
    edits = [k for k in worst["edited"] if k.split("|", 1)[0] in worst["original"]]
    by_system: dict[str, list[str]] = defaultdict(list)
    for k in edits:
        by_system[system_of[k]].append(k)

    def aucs(keys: list[str]) -> tuple[float, float]:
        originals = [k.split("|", 1)[0] for k in keys]
        return (pairwise_auc([worst["edited"][k] for k in keys], [worst["original"][o] for o in originals]),
                pairwise_auc([clip["edited"][k] for k in keys], [clip["original"][o] for o in originals]))

    overall = aucs(edits)
    return {
        "pairs": len(edits), "worst_segment_auc": overall[0], "clip_score_auc": overall[1],
        "edited_flagged": float(np.mean(flagged["edited"])) if flagged["edited"] else float("nan"),
        "original_flagged": float(np.mean(flagged["original"])) if flagged["original"] else float("nan"),
        "per_system": {s: {"pairs": len(k), "worst_segment_auc": aucs(k)[0], "clip_score_auc": aucs(k)[1]}
                       for s, k in sorted(by_system.items())},
        "errors": errors,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Pairs: {result['pairs']}; flagged for review: edited {100 * result['edited_flagged']:.0f} %, "
             f"originals {100 * result['original_flagged']:.0f} %.", "",
             "| edit system | pairs | worst-segment AUC | clip-score AUC |", "|---|---|---|---|",
             f"| **all** | {result['pairs']} | {result['worst_segment_auc']:.2f} | {result['clip_score_auc']:.2f} |"]
    for system, r in result["per_system"].items():
        lines.append(f"| {system} | {r['pairs']} | {r['worst_segment_auc']:.2f} | {r['clip_score_auc']:.2f} |")
    if result["errors"]:
        lines += ["", f"{len(result['errors'])} clips could not be scored: " + "; ".join(result["errors"][:5])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, required=True, help="CSV: path, role, pair_id, system")
    parser.add_argument("--audio-root", type=Path, required=True, help="folder the CSV's paths point into")
    parser.add_argument("--model", type=Path, required=True, help="model package (.vxpkg)")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here too")
    args = parser.parse_args(argv)
    table = markdown(evaluate_pairs(pd.read_csv(args.pairs), args.audio_root, args.model))
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
