"""`voxguard bench engines`: does a faster inference engine keep the bundled model's accuracy?

Scores the model's held-out test split (from the training corpus manifest) and the
cross-corpus devset with each engine, the way `voxguard score` does (whole clip
cut into the model's windows, clip score = mean window score), and reports per
set: EER with each engine, its change from float in points, the largest clip-score
difference from float, and inference seconds. Each clip is decoded once and
scored by every engine, so the engines see identical inputs.

The rule (issue 17): an engine may become the default only if its EER moves by
at most `MAX_EER_SHIFT_POINTS` on both sets; a move for the better does not count
against it (one clip at the threshold moves these EERs by 0.2-0.7 point). Re-run after replacing the bundled
model: `voxguard bench engines` (defaults: the bundled model,
var/corpus/manifest.parquet's test split, ../shared/devset).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MAX_EER_SHIFT_POINTS = 0.5


def clip_sets(manifest: Path | None, devset: Path | None, max_clips: int | None, seed: int = 0) -> dict[str, list[tuple[str, int]]]:
    """{set name: [(audio path, 1 bona fide / 0 spoof)]}; a sample of `max_clips` per set when given."""
    import pandas as pd

    sets: dict[str, list[tuple[str, int]]] = {}
    if manifest is not None and Path(manifest).exists():
        from jobs.train.data import eval_rows

        rows = eval_rows(pd.read_parquet(manifest), "test")
        sets["test split"] = [(str(p), int(lab == "bonafide")) for p, lab in zip(rows["path"], rows["label"], strict=True)]
    if devset is not None and (Path(devset) / "manifest.csv").exists():
        raw = pd.read_csv(Path(devset) / "manifest.csv")
        sets["devset"] = [(str(Path(devset) / p), int(lab == "bonafide"))
                          for p, lab in zip(raw["path"], raw["label"], strict=True)]
    if max_clips:
        rng = np.random.default_rng(seed)
        for name, clips in sets.items():
            if len(clips) > max_clips:
                keep = sorted(rng.choice(len(clips), max_clips, replace=False))
                sets[name] = [clips[i] for i in keep]
    return sets


def run_engines(
    model: str | Path,
    sets: dict[str, list[tuple[str, int]]],
    engines: tuple[str, ...] = ("float", "int8"),
    cache_dir: Path | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """EER per (set, engine), the shift from float, max |clip score - float clip score|, inference seconds."""
    import torch

    from siamese.detector import Detector
    from siamese.engines import onnx_artefact
    from siamese.metrics import eer
    from siamese.package import ModelPackage

    torch.set_num_threads(threads or os.cpu_count() or 1)
    package = ModelPackage.load(model)
    detectors = {}
    for engine in ("float", *[e for e in engines if e != "float"]):
        onnx = onnx_artefact(package, cache_dir or Path("var/cache/engines")) if engine == "onnx" else None
        detectors[engine] = Detector(package, device="cpu", engine=engine, onnx_path=onnx, threads=threads)
    results: dict[str, Any] = {"model_version": package.version, "sets": {}}
    for name, clips in sets.items():
        scores: dict[str, list[float]] = {e: [] for e in detectors}
        seconds = dict.fromkeys(detectors, 0.0)
        labels: list[int] = []
        skipped = 0
        log(f"[bench] {name}: {len(clips)} clips x {len(detectors)} engines")
        for path, label in clips:
            try:
                audio = detectors["float"].decode(path)
            except Exception:  # noqa: BLE001 - an unreadable clip is left out of every engine alike
                skipped += 1
                continue
            frames = detectors["float"].windows(audio.waveform).frames
            for engine, detector in detectors.items():
                start = time.perf_counter()
                scores[engine].append(float(np.mean(detector.score_windows(frames))))
                seconds[engine] += time.perf_counter() - start
            labels.append(label)
        ref = np.asarray(scores["float"])
        per_engine = {}
        for engine in detectors:
            value = float(eer(scores[engine], labels)[0])
            per_engine[engine] = {
                "eer": value,
                "max_clip_diff": float(np.max(np.abs(np.asarray(scores[engine]) - ref))) if len(ref) else 0.0,
                "inference_s": seconds[engine],
            }
        for engine in detectors:
            per_engine[engine]["eer_shift_points"] = 100 * (per_engine[engine]["eer"] - per_engine["float"]["eer"])
        results["sets"][name] = {"n": len(labels), "skipped": skipped, "engines": per_engine}
    # The rule guards against losing accuracy: an EER that gets *better* by more than the
    # margin is no reason to refuse an engine (with 150-570 clips per class, one clip sitting
    # on the threshold moves the EER by 0.2-0.7 point either way), so only a rise counts.
    results["acceptable"] = {
        engine: all(s["engines"][engine]["eer_shift_points"] <= MAX_EER_SHIFT_POINTS
                    for s in results["sets"].values())
        for engine in detectors
    } if results["sets"] else {}
    return results


def format_engines(result: dict[str, Any]) -> str:
    """Markdown table: one row per (set, engine)."""
    out = [
        "| set | clips | engine | EER % | shift (points) | max clip-score diff | inference s | speed vs float |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, data in result["sets"].items():
        base = data["engines"]["float"]["inference_s"] or 1e-9
        for engine, e in data["engines"].items():
            out.append(
                f"| {name} | {data['n']} | {engine} | {100 * e['eer']:.2f} | {e['eer_shift_points']:+.2f} | "
                f"{e['max_clip_diff']:.2e} | {e['inference_s']:.1f} | {base / (e['inference_s'] or 1e-9):.2f}x |"
            )
    out.append("")
    verdicts = ", ".join(
        f"{engine} {'within' if ok else 'OUTSIDE'} the rule (EER at most {MAX_EER_SHIFT_POINTS} point worse)"
        + "".join(f"; {name}: {-e['eer_shift_points']:.2f} point better"
                  for name, data in result["sets"].items()
                  for e in [data["engines"][engine]] if e["eer_shift_points"] < -MAX_EER_SHIFT_POINTS)
        for engine, ok in result.get("acceptable", {}).items() if engine != "float"
    )
    out.append(f"Model {result['model_version']}. {verdicts}.")
    return "\n".join(out)
