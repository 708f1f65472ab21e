#!/usr/bin/env python3
"""Score every clip of ../shared/corpus with the one-call API and count the outcomes.

Checks the foundation's promise that `Detector.score` never raises: every clip of
the manifest must come back as a result (scored, or an error row). Exits 1 if any
call raised, 0 otherwise. Usage:

    python scripts/score_shared_corpus.py [--model PACKAGE] [--corpus DIR] [--limit N] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import torch

from siamese.detector import Detector
from voxguard.settings import REPO_ROOT, Settings


def main(argv: list[str] | None = None) -> int:
    """Score the corpus; print counts, timing and any exception."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="package (default: VOXGUARD_MODEL / bundled model)")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT.parent / "shared" / "corpus")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips of the manifest")
    parser.add_argument("--out", type=Path, default=None, help="write one JSON line per clip here")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = args.model or Settings.from_env().model_path
    if not model.is_file():
        print(f"error: no model package at {model}; pass --model")
        return 2
    manifest = args.corpus / "manifest.csv"
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[: args.limit]
    detector = Detector.from_package(model, device="cpu")
    print(f"model {detector.version}: scoring {len(rows)} clips of {args.corpus}")

    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    crashes: list[str] = []
    correct = scored = 0
    audio_seconds = 0.0
    out = args.out.open("w") if args.out else None
    started = time.perf_counter()
    for row in rows:
        path = args.corpus / row["path"]
        try:
            result = detector.score(path, name=row["path"])
        except Exception:  # noqa: BLE001 - exactly what this script exists to catch
            crashes.append(f"{row['path']}:\n{traceback.format_exc()}")
            outcomes["EXCEPTION"] += 1
            continue
        if result.error:
            outcomes["error"] += 1
            errors[result.error.split(":", 1)[0]] += 1
        else:
            outcomes[result.label] += 1
            scored += 1
            audio_seconds += result.duration_s or 0.0
            correct += int(result.label == row["label"])
        if out:
            record = result.to_dict()
            record.pop("segments")
            record["truth"] = row["label"]
            out.write(json.dumps(record) + "\n")
    elapsed = time.perf_counter() - started
    if out:
        out.close()

    print(f"{len(rows)} clips in {elapsed:.1f} s ({len(rows) / max(elapsed, 1e-9):.1f} clips/s, "
          f"{audio_seconds / 3600:.2f} h of audio scored)")
    print("outcomes:", dict(sorted(outcomes.items())))
    print("error codes:", dict(sorted(errors.items())) or "none")
    if scored:
        print(f"label matches manifest on {correct}/{scored} scored clips "
              "(a diagnostic only: inconclusive counts as a miss)")
    for crash in crashes:
        print("EXCEPTION in", crash, file=sys.stderr)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
