"""`voxguard train`: train a model package from a corpus manifest with Ray Train."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from voxguard.settings import REPO_ROOT, Settings
from siamese.frontends import kinds as frontend_kinds

if TYPE_CHECKING:
    from jobs.train.config import TrainJobConfig

# The job config's defaults (`jobs.train.config.TrainJobConfig`), written out so that
# building the parser does not import torch (`voxguard --help` stays fast);
# tests/test_cli_lazy.py fails if the two drift apart.
DEFAULTS: dict[str, object] = {
    "epochs": 12,
    "batch_size": 32,
    "lr": 2e-3,
    "patience": 4,
    "num_workers": 2,
    "cpus_per_worker": 1.0,
    "gpus_per_worker": 1.0,
    "objective": "contrastive",
    "storage_path": str(REPO_ROOT / "var" / "train-runs"),
    "name": "voxguard-train",
    "seed": 0,
    "operating_point": "cost",
    "target_frr": 0.05,
}
_DEFAULTS = DEFAULTS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command."""
    p = subparsers.add_parser("train", help="train a model package (Ray Train, DDP)")
    p.add_argument("--manifest", type=Path, default=REPO_ROOT / "var" / "corpus" / "manifest.parquet",
                   help="corpus manifest (.parquet from `voxguard corpus build`, or a path,label,source,speaker CSV)")
    p.add_argument("--out", type=Path, required=True, help="model package to write (.vxpkg); its Markdown card goes next to it as .md")
    p.add_argument("--epochs", type=int, default=_DEFAULTS["epochs"], help="maximum epochs")
    p.add_argument("--batch-size", type=int, default=_DEFAULTS["batch_size"], help="clips per batch, per worker")
    p.add_argument("--batches-per-epoch", type=int, default=None, help="summed over workers (default: one pass)")
    p.add_argument("--lr", type=float, default=_DEFAULTS["lr"], help="peak learning rate")
    p.add_argument("--patience", type=int, default=_DEFAULTS["patience"], help="epochs without dev-EER gain before stopping")
    p.add_argument("--num-workers", type=int, default=_DEFAULTS["num_workers"], help="Ray Train workers (DDP)")
    p.add_argument("--cpus-per-worker", type=float, default=_DEFAULTS["cpus_per_worker"], help="CPUs each worker reserves")
    p.add_argument("--use-gpu", action="store_true", help="train on GPUs")
    p.add_argument("--gpus-per-worker", type=float, default=_DEFAULTS["gpus_per_worker"], help="GPUs each worker reserves, with --use-gpu")
    p.add_argument("--objective", choices=["contrastive", "triplet", "oneclass"], default=_DEFAULTS["objective"],
                   help="training objective")
    p.add_argument("--frontend", choices=frontend_kinds(), default=None,
                   help="whisper: frozen pretrained Whisper tiny.en encoder (first blocks) + 1-D CNN")
    p.add_argument("--whisper-blocks", type=int, default=None,
                   help="with the whisper front-end: how many of its transformer blocks to use (tiny.en has 4)")
    p.add_argument("--whisper-layers", choices=["last", "all"], default=None,
                   help="with the whisper front-end: the last block's rows, or the stem's and every block's stacked")
    p.add_argument("--pooling", choices=["attentive", "mean"], default=None, help="time pooling (default: the model config's)")
    p.add_argument("--comparison", choices=["cosine", "euclidean", "mahalanobis"], default=None,
                   help="embedding comparison (default: the model config's)")
    p.add_argument("--channels", default=None,
                   help="encoder channels, e.g. 16,32,64,128; \"\" for none (pooled features straight to the projection)")
    p.add_argument("--window-s", type=float, default=None, help="window length in seconds, hop = half (default: the model config's)")
    p.add_argument("--max-dev-clips", type=int, default=None, help="cap on dev clips (scored every epoch)")
    p.add_argument("--max-test-clips", type=int, default=None, help="cap on test clips")
    p.add_argument("--no-augmentation", action="store_true", help="leave out the corpus's augmented variants")
    p.add_argument("--storage-path", default=_DEFAULTS["storage_path"], help="local folder or s3://bucket/prefix")
    p.add_argument("--name", default=_DEFAULTS["name"], help="run name; the same name + storage path resumes")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="resume an interrupted run of the same name (default) or start afresh")
    p.add_argument("--init", type=Path, default=None, help="fine-tune from this package (its architecture is kept)")
    p.add_argument("--devset", type=Path, default=REPO_ROOT.parent / "shared" / "devset",
                   help="cross-corpus devset folder, for reporting only (skipped if absent)")
    p.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "cache" / "decoded",
                   help="decoded-audio cache")
    p.add_argument("--ray-address", default="", help="Ray cluster address (default: VOXGUARD_RAY_ADDRESS, else local Ray)")
    p.add_argument("--seed", type=int, default=_DEFAULTS["seed"], help="seed of data order and initialisation")
    p.add_argument("--operating-point", choices=["cost", "eer", "frr"], default=_DEFAULTS["operating_point"],
                   help="how the decision threshold is chosen on the dev split: cost (minDCF, P(spoof) 0.05, "
                        "C_fa 10), eer, or frr (reject at most --target-frr of dev's real recordings)")
    p.add_argument("--target-frr", type=_fraction, default=_DEFAULTS["target_frr"],
                   help="with --operating-point frr: the share of real recordings the threshold may reject")
    p.set_defaults(func=_run)


def _fraction(text: str) -> float:
    """A number in [0, 1), for argparse (one clear line instead of a traceback from the config)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {value}")
    return value


def _model(args: argparse.Namespace):
    from jobs.train.config import default_model_config

    model = default_model_config()
    if args.frontend:
        model = model.with_frontend(args.frontend)
    if args.whisper_blocks is not None:
        if model.frontend.kind != "whisper":
            raise SystemExit("--whisper-blocks needs the whisper front-end")
        model = model.replace(frontend={"whisper_blocks": args.whisper_blocks})
    if args.whisper_layers is not None:
        if model.frontend.kind != "whisper":
            raise SystemExit("--whisper-layers needs the whisper front-end")
        model = model.replace(frontend={"whisper_layers": args.whisper_layers})
    if args.pooling:
        model = model.replace(encoder={"pooling": args.pooling})
    if args.channels is not None:  # "" : no conv blocks (the stats head: pooled features -> projection)
        model = model.replace(encoder={"channels": tuple(int(c) for c in args.channels.split(",") if c.strip())})
    if args.comparison:
        model = model.replace(comparison={"kind": args.comparison})
    if args.window_s:
        model = model.replace(audio={"window_s": args.window_s, "hop_s": args.window_s / 2})
    return model


def job_config(args: argparse.Namespace, settings: Settings) -> TrainJobConfig:
    """The training job's configuration: the flags, and from the command's settings the Ray
    address (`--ray-address`, else VOXGUARD_RAY_ADDRESS) and the object store of an s3:// --storage-path."""
    from jobs.train.config import TrainJobConfig

    return TrainJobConfig(
        manifest=args.manifest, out=args.out, model=_model(args), objective=args.objective,
        epochs=args.epochs, batch_size=args.batch_size, batches_per_epoch=args.batches_per_epoch,
        lr=args.lr, patience=args.patience, seed=args.seed, num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker, use_gpu=args.use_gpu, gpus_per_worker=args.gpus_per_worker,
        storage_path=args.storage_path, name=args.name, resume=args.resume, init=args.init,
        augmentation=not args.no_augmentation, max_dev_clips=args.max_dev_clips, max_test_clips=args.max_test_clips, cache_dir=args.cache_dir,
        devset=args.devset if args.devset and args.devset.exists() else None,
        ray_address=args.ray_address or settings.ray_address, storage_options=settings.storage_options,
        operating_point=args.operating_point, target_frr=args.target_frr,
    )


def _run(args: argparse.Namespace) -> int:
    from jobs.train.trainer import train

    result = train(job_config(args, Settings.from_env()))
    summary = {
        "package": str(result.package_path), "version": result.version,
        "resumed_from_epoch": result.resumed_from_epoch, "wall_s": round(result.wall_s, 1),
        "history": result.history,
    }
    for key in ("test", "devset"):
        card = result.metrics.get(key)
        if card:
            summary[key] = {k: card.get(k) for k in ("eer", "min_dcf", "cllr", "accuracy", "roc_auc")}
    print(json.dumps(summary, indent=2))
    return 0
