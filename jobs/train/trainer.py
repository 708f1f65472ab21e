"""Driver of a training run: manifest -> decode (Ray tasks) -> Ray Train `TorchTrainer` -> package.

Re-running with the same `storage_path` and `name` resumes an interrupted run
from its latest checkpoint (Ray Train restores the run's checkpoint state);
`resume=False` starts afresh. After training, the best (dev-EER) weights are
calibrated on the dev split, evaluated on the test split and on the
cross-corpus devset (reporting only), and written as a model package plus a
Markdown metrics card next to it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from jobs.train.config import TrainJobConfig, TrainResult
from jobs.train.data import (
    decode_to_cache,
    eval_rows,
    load_devset,
    rows_to_clipset,
    select_training_rows,
    weight_rows,
    write_clipset_to_cache,
)
from jobs.train.loop import STATE_FILE, train_loop
from jobs.train.manifest import load_manifest
from jobs.train.report import card_markdown
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage
from siamese.training import TrainConfig, clip_scores, evaluate, fit_mahalanobis, metrics_from_scores, package_model

ROW_FIELDS = ("clip_id", "cache", "label", "group", "generator")


def _log(config: TrainJobConfig, message: str) -> None:
    if config.verbose:
        print(f"[train] {message}", flush=True)


def _ensure_ray(config: TrainJobConfig) -> None:
    """Join the cluster (`config.ray_address`, which `voxguard train` fills from VOXGUARD_RAY_ADDRESS,
    else Ray's RAY_ADDRESS; with token auth) or start a local Ray: the same start-up as every other job."""
    from cluster.local import init_ray

    # Local: enough logical CPUs for every worker plus Ray Data / decode tasks.
    cpus = max(os.cpu_count() or 1, int(config.num_workers * config.cpus_per_worker) + 1)
    init_ray(config.ray_address or None, num_cpus=cpus, log_to_driver=config.verbose)


def _quiet_data() -> None:
    """No Ray Data progress bars in logs (they flood nohup logs with carriage returns)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def _cap(rows: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most `limit` rows, class-stratified and deterministic."""
    if limit is None or len(rows) <= limit:
        return rows
    parts = [g.sample(n=min(len(g), limit // 2), random_state=seed) for _, g in rows.groupby("label")]
    return pd.concat(parts).reset_index(drop=True)


def init_package(config: TrainJobConfig, loaded: ModelPackage | None = None) -> ModelPackage | None:
    """The `--init` package, read once per run: `loaded` when the caller already holds it (the retraining
    job's champion), else read from `config.init`; None when the run starts from random weights."""
    if loaded is not None or config.init is None:
        return loaded
    return ModelPackage.load(config.init)


def prepare_data(config: TrainJobConfig, init: ModelPackage | None = None) -> dict[str, pd.DataFrame]:
    """Manifest rows of train/dev/test (+ devset) with decoded caches (`init`: see `init_package`)."""
    model = _model_config(config, init_package(config, init))
    frame = load_manifest(config.manifest)
    frame, report = decode_to_cache(frame, Path(config.cache_dir), model.audio)
    _log(config, f"decoded {report.n_decoded} new clips of {report.n_total} ({report.n_failed} failed)")
    for failure in report.failures:
        _log(config, f"  skipped {failure}")
    train = select_training_rows(frame, config.augmentation)
    if config.extra_train is not None and len(config.extra_train):
        extra = write_clipset_to_cache(config.extra_train, Path(config.cache_dir), "extra")
        train = pd.concat([train, weight_rows(extra, config.extra_weight)], ignore_index=True)
    out = {
        "train": train,
        "dev": _cap(eval_rows(frame, "dev"), config.max_dev_clips, config.seed),
        "test": _cap(eval_rows(frame, "test"), config.max_test_clips, config.seed),
    }
    if config.devset is not None:
        loaded = load_devset(Path(config.devset), Path(config.cache_dir), model.audio)
        if loaded is not None:
            out["devset"] = loaded[0]
    for split in ("train", "dev"):
        if set(out[split]["label"]) != {"bonafide", "spoof"}:
            raise ValueError(f"the {split} split needs both bona fide and spoof clips")
    return out


def _model_config(config: TrainJobConfig, init: ModelPackage | None):
    """The network config: the --init package's (fine-tuning keeps its architecture) or the job's."""
    return init.config if init is not None else config.model


def _optimisation(config: TrainJobConfig) -> TrainConfig:
    """The loop's `TrainConfig`: the optimisation settings the job config inherits from it."""
    return TrainConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)})


def _loop_config(config: TrainJobConfig, data: dict[str, pd.DataFrame], init: ModelPackage | None) -> dict[str, Any]:
    return {
        "model": _model_config(config, init).to_dict(),
        "train": dataclasses.asdict(_optimisation(config)),
        "dev_rows": data["dev"][list(ROW_FIELDS)].to_dict("records"),
        "n_train": len(data["train"]),
        "threads": max(1, int(config.cpus_per_worker)),
        "init": str(config.init) if config.init else "",
    }


def run_trainer(config: TrainJobConfig, data: dict[str, pd.DataFrame], init: ModelPackage | None = None):
    """Fit with Ray Train; returns the `ray.train.Result` (`init`: see `init_package`)."""
    import ray.data
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from jobs.train.progress import ProgressRelay

    _quiet_data()
    relay = ProgressRelay(config.progress) if config.progress else None
    if not config.resume:
        _delete_run(config)
    init = init_package(config, init)
    check_resume(config, init)
    from voxguard.storage import is_remote

    # An object store is handed to Ray Train as a filesystem built on the configured endpoint (a bare
    # s3:// URI would make Ray build its own, pointing at AWS); a local path is passed as it is.
    storage = {"storage_path": config.storage_path}
    if is_remote(config.storage_path):
        fs, root = _storage(config)
        storage = {"storage_path": root, "storage_filesystem": fs}
    resources = {"CPU": config.cpus_per_worker}
    if config.use_gpu:
        resources["GPU"] = config.gpus_per_worker
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=_loop_config(config, data, init),
        scaling_config=ScalingConfig(num_workers=config.num_workers, use_gpu=config.use_gpu, resources_per_worker=resources),
        run_config=RunConfig(
            name=config.name,
            **storage,
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=config.max_failures),
            callbacks=[relay.callback] if relay else None,
        ),
        datasets={"train": ray.data.from_pandas(data["train"][list(ROW_FIELDS)])},
    )
    try:
        return trainer.fit()
    finally:
        if relay:
            relay.close()


def _run_dir(config: TrainJobConfig) -> Path:
    return Path(config.storage_path) / config.name


JOB_FILE = "voxguard-job.json"


def _storage(config: TrainJobConfig):  # type: ignore[no-untyped-def] # -> (pyarrow FileSystem, path)
    """The run storage's filesystem and root path, on the configured endpoint (`voxguard.storage`)."""
    from voxguard.storage import filesystem

    return filesystem(config.storage_path, config.storage_options)


def _delete_run(config: TrainJobConfig) -> None:
    """Remove an earlier run of this name (local or s3://), so Ray Train starts afresh."""
    import pyarrow.fs as pafs

    fs, root = _storage(config)
    folder = f"{root.rstrip('/')}/{config.name}"
    if fs.get_file_info(folder).type == pafs.FileType.Directory:
        fs.delete_dir(folder)


def job_fingerprint(config: TrainJobConfig, init: ModelPackage | None = None) -> dict[str, Any]:
    """What must match for a resume to continue the same run (epochs and patience may change)."""
    return {
        "manifest": str(Path(config.manifest).resolve()),
        "model": _model_config(config, init_package(config, init)).to_dict(),
        "objective": config.objective, "batch_size": config.batch_size,
        "batches_per_epoch": config.batches_per_epoch, "lr": config.lr, "weight_decay": config.weight_decay,
        "seed": config.seed, "augmentation": config.augmentation, "init": str(config.init or ""),
        "n_extra_train": len(config.extra_train) if config.extra_train is not None else 0,
        # Only when not the default, so runs started before this setting existed still resume.
        **({} if config.keep_best else {"keep_best": False}),
    }


def check_resume(config: TrainJobConfig, init: ModelPackage | None = None) -> None:
    """Refuse to resume a run of the same name that was started with other data or settings.

    Without this, `voxguard train` with a new manifest but the default name would
    silently continue (or just re-package) the old run. Works on local and s3:// storage.
    """
    import pyarrow.fs as pafs

    fs, root = _storage(config)
    path = f"{root.rstrip('/')}/{config.name}/{JOB_FILE}"
    current = json.loads(json.dumps(job_fingerprint(config, init), default=str))
    if fs.get_file_info(path).type == pafs.FileType.File:
        with fs.open_input_stream(path) as f:
            previous = json.loads(f.read().decode())
        if previous != current:
            changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
            raise ValueError(
                f"run {config.name!r} in {config.storage_path} was started with other settings ({', '.join(changed)}); "
                "pass --no-resume to start it afresh or choose another --name"
            )
        return
    fs.create_dir(f"{root.rstrip('/')}/{config.name}", recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(json.dumps(current, indent=1).encode())


def finalise(config: TrainJobConfig, data: dict[str, pd.DataFrame], state: dict[str, Any], wall_s: float,
             init: ModelPackage | None = None) -> tuple[ModelPackage, np.ndarray]:
    """Best weights -> Mahalanobis fit (if used) -> calibration on dev -> cards on test and devset -> package.

    Also returns the package's scores of the test split (rows `data["test"]`, in order), so a caller that
    judges the model on that split (the retraining gate) does not score it a second time.
    """
    init = init_package(config, init)
    model_config = _model_config(config, init)
    network = SiameseNetwork(model_config)
    network.load_state_dict(state["best_state"] or state["model"])
    device = torch.device("cpu")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if model_config.comparison.kind == "mahalanobis":
        fit_mahalanobis(network, rows_to_clipset(data["train"].drop_duplicates("cache")), device)
    dev, test = rows_to_clipset(data["dev"]), rows_to_clipset(data["test"])
    parent = init.version if init is not None else None
    info = {
        "objective": config.objective,
        "manifest": str(config.manifest),
        "epochs_run": len(state["history"]),
        "best_dev_eer": float(state["best_eer"]),
        "history": state["history"],
        "num_workers": config.num_workers,
        "use_gpu": config.use_gpu,
        "augmentation": config.augmentation,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "seed": config.seed,
        "keep_best": config.keep_best,
        "operating_point": config.operating_point,
        "target_frr": config.target_frr,
        "wall_s": round(wall_s, 1),
        "parent_version": parent,
        "n_extra_train": len(config.extra_train) if config.extra_train is not None else 0,
        "extra_weight": config.extra_weight,
        "splits": {k: {"clips": len(v), "generators": sorted(set(v["generator"]))} for k, v in data.items()},
    }
    pkg = package_model(network, dev, None, list(data["train"]["clip_id"]), info, device,
                        operating_point=config.operating_point, target_frr=config.target_frr)
    test_scores = clip_scores(network, test, device) if len(test) else np.zeros(0)
    if len(test):
        pkg.metrics["test"] = metrics_from_scores(test_scores, test, pkg.calibration, pkg.operating_point)
    if "devset" in data and len(data["devset"]):
        devset = rows_to_clipset(data["devset"])
        # Reporting only: calibration and threshold come from the corpus dev split, never from here.
        pkg.metrics["devset"] = evaluate(network, devset, pkg.calibration, pkg.operating_point, device)
    return pkg, test_scores


def train(config: TrainJobConfig, init: ModelPackage | None = None) -> TrainResult:
    """Run a whole training job; writes the package and its Markdown card (same name, `.md`).

    `init`: the package at `config.init` when the caller has already read it (the retraining job's
    champion); otherwise it is read here, once for the whole run.
    """
    started = time.time()
    _ensure_ray(config)
    init = init_package(config, init)
    data = prepare_data(config, init)
    _log(config, " ".join(f"{k}={len(v)}" for k, v in data.items()) + " clips")
    result = run_trainer(config, data, init)
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}")
    if result.checkpoint is None:
        raise RuntimeError("training produced no checkpoint")
    with result.checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)
    history = list(state["history"])
    pkg, test_scores = finalise(config, data, state, time.time() - started, init)
    path = pkg.save(config.out)
    path.with_suffix(".md").write_text(card_markdown(pkg))
    last = result.metrics or {}
    start_epoch = last.get("start_epoch")
    _log(config, f"wrote {path} ({pkg.version}) in {time.time() - started:.0f} s")
    return TrainResult(
        package_path=path,
        version=pkg.version,
        metrics=pkg.metrics,
        history=history,
        resumed_from_epoch=int(start_epoch) if start_epoch else None,
        wall_s=time.time() - started,
        run_dir=str(_run_dir(config)),
        package=pkg,
        test_rows=data["test"][list(ROW_FIELDS)].reset_index(drop=True),
        test_scores=test_scores,
    )
