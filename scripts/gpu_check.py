"""GPU check for the cluster issue (run on a machine with a CUDA GPU; never needed by CI).

1. Ray Train with `use_gpu=True` (DDP/NCCL path, bf16 autocast) on a generated corpus,
   next to the same run on the machine's CPUs: seconds per epoch for each.
2. The scoring benchmark (`voxguard bench score`): decode-only floor, naive loop on
   the GPU, Ray Data pipeline with fractional-GPU actors.
Writes `gpu_check.json` and `gpu_check.md` into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voxguard.bench.score import format_table, run_bench  # noqa: E402
from jobs.train.config import TrainJobConfig, default_model_config  # noqa: E402
from jobs.train.trainer import train  # noqa: E402
from siamese.frontends import kinds as frontend_kinds  # noqa: E402
from voxguard.settings import Settings  # noqa: E402

SR = 16000


def make_corpus(root: Path, n: int, seed: int = 0) -> Path:
    """Synthetic bona fide (noise + hum) vs spoof (gated tone bursts) clips, 2-4 s, with splits."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        pair = (i // 2) % 10  # a bona fide and a spoof clip share each split slot
        split = "train" if pair < 7 else ("dev" if pair < 9 else "test")
        spoof = i % 2 == 1
        gen = (i // 2) % 3 if split == "train" else (3 if split == "dev" else 4)
        length = int(SR * rng.uniform(2.0, 4.0))
        t = np.arange(length) / SR
        x = 0.05 * rng.normal(size=length) + 0.1 * np.sin(2 * np.pi * rng.uniform(100, 300) * t)
        if spoof:
            x += 0.2 * (np.sin(2 * np.pi * (6 + gen) * t) > 0) * np.sin(2 * np.pi * (3000 + 400 * gen) * t)
        path = root / f"{split}-{i}.flac"
        soundfile.write(path, x.astype(np.float32), SR, subtype="PCM_16")
        rows.append({
            "clip_id": f"c{i}", "path": str(path), "label": "spoof" if spoof else "bonafide",
            "generator": f"gen{gen}" if spoof else "bonafide", "family": "synthetic" if spoof else "bonafide",
            "speaker": f"{split}-spk{i % 7}", "source": "gpu-check", "language": "", "split": split,
            "licence": "CC0", "origin": "generated", "augmentation": "", "duration_s": length / SR,
        })
    manifest = root / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    return manifest


def timed_train(manifest: Path, work: Path, name: str, use_gpu: bool, epochs: int, cpus: float, frontend: str) -> dict:
    start = time.perf_counter()
    result = train(TrainJobConfig(
        model=default_model_config().with_frontend(frontend),
        manifest=manifest, out=work / f"{name}.vxpkg", epochs=epochs, batch_size=64, num_workers=1,
        use_gpu=use_gpu, cpus_per_worker=cpus, storage_path=str(work / "runs"), name=name, resume=False,
        cache_dir=work / "cache", devset=None, patience=epochs, verbose=False,
    ))
    wall = time.perf_counter() - start
    return {
        "run": f"{name} ({frontend})", "use_gpu": use_gpu, "epochs": len(result.history), "wall_s": round(wall, 1),
        "loss_first": round(result.history[0]["loss"], 4), "loss_last": round(result.history[-1]["loss"], 4),
        "dev_eer_last": round(result.history[-1]["dev_eer"], 4), "test_eer": round(result.metrics["test"]["eer"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bench-files", type=int, default=300)
    parser.add_argument("--frontend", default="whisper", choices=frontend_kinds())
    parser.add_argument("--skip-train", action="store_true", help="only the scoring benchmark")
    parser.add_argument("--dry-run", action="store_true", help="CPU only, to check the script before a GPU lease")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/voxguard-gpu-check")
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.is_available() and not args.dry_run
    device = torch.cuda.get_device_name(0) if gpu else "cpu (dry run)"
    report: dict = {"device": device, "cpus": os.cpu_count(), "torch": torch.__version__}
    manifest = None if args.skip_train else make_corpus(work / "corpus", args.clips)
    report["train"] = [] if args.skip_train else [
        timed_train(manifest, work, "gpu" if gpu else "cpu-as-gpu", gpu, args.epochs, 4 if gpu else 1, args.frontend),
        timed_train(manifest, work, "cpu", False, 1, max(1, (os.cpu_count() or 2) - 4), args.frontend),
    ]
    print(json.dumps(report["train"], indent=1), flush=True)
    model = Path(__file__).resolve().parent.parent / "models" / "voxguard-default.vxpkg"
    bench = run_bench(args.bench_files, model, workdir=work / "bench", settings=Settings.from_env())
    report["bench"] = bench
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    lines = [f"GPU: {report['device']}, {report['cpus']} CPUs, torch {report['torch']}", ""]
    lines += ["| run | epochs | wall s | s/epoch | loss first -> last | test EER |", "|---|---|---|---|---|---|"]
    for r in report["train"]:
        lines.append(f"| {r['run']} | {r['epochs']} | {r['wall_s']} | {r['wall_s'] / r['epochs']:.1f} | "
                     f"{r['loss_first']} -> {r['loss_last']} | {r['test_eer']} |")
    lines += ["", format_table(bench)]
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
