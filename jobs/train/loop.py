"""The per-worker training loop run by Ray Train (one copy per DDP rank).

Data: each rank gets its shard of the training rows through Ray Data
(`ray.train.get_dataset_shard("train")`) and a strided slice of the dev rows;
dev scores are all-gathered so every rank computes the same EER and early
stopping stops all ranks at the same epoch.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jobs.train.data import rows_to_clipset
from siamese import metrics
from siamese.config import ModelConfig
from siamese.losses import make_objective
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage
from siamese.sampler import BalancedBatchSampler
from siamese.training import (
    TrainConfig,
    clip_scores,
    make_optimizer,
    random_crops,
    seed_epoch,
    use_deterministic_kernels,
)

STATE_FILE = "state.pt"


class ObjectiveModule(nn.Module):
    """Network + objective in one forward, so DDP sees every parameter (the bank too) used in `forward`."""

    def __init__(self, network: SiameseNetwork, objective: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.objective = objective

    def forward(self, crops: torch.Tensor, labels: torch.Tensor, use_amp: bool = False) -> torch.Tensor:
        with torch.autocast(device_type=crops.device.type, dtype=torch.bfloat16, enabled=use_amp):
            embeddings = self.network(crops)
        return self.objective(embeddings.float(), labels, self.network.bank)


def _gather(values: Any) -> list[Any]:
    """all_gather_object across ranks (a one-element list without a process group)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [values]
    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, values)
    return out


def dev_eer(network: SiameseNetwork, dev_rows: list[dict], rank: int, world: int, device: torch.device) -> float:
    """EER of the whole dev split, each rank scoring every world-th clip."""
    mine = list(range(rank, len(dev_rows), world))
    scores = clip_scores(network, rows_to_clipset([dev_rows[i] for i in mine]), device) if mine else np.empty(0)
    parts = _gather((mine, scores.tolist()))
    order = [i for idx, _ in parts for i in idx]
    flat = [s for _, sc in parts for s in sc]
    labels = np.array([1 if dev_rows[i]["label"] == "bonafide" else 0 for i in order])
    return float(metrics.eer(np.array(flat), labels)[0])


def train_loop(cfg: dict[str, Any]) -> None:
    """Ray Train entry point; `cfg` is plain data (see `trainer._loop_config`)."""
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    # A fixed intra-op thread count (from the job config, not the host): float reductions split by thread.
    torch.set_num_threads(max(1, int(cfg["threads"])))
    use_deterministic_kernels()
    device = ray.train.torch.get_device()
    use_amp = device.type == "cuda"  # bf16 autocast on GPU only
    model_config = ModelConfig.from_dict(cfg["model"])
    config = TrainConfig(**cfg["train"])
    # Ray Data streams rows in whatever order its tasks finish; sorting makes a run reproducible
    # (the sampler draws indices from a seeded RNG, so the row order decides what is drawn).
    # The cache path breaks ties between rows that share a clip id and group (e.g. a hand-made manifest).
    rows = sorted(
        ray.train.get_dataset_shard("train").iter_rows(),
        key=lambda r: (str(r["clip_id"]), str(r["group"]), str(r["cache"])),
    )
    clips = rows_to_clipset(rows)
    torch.manual_seed(config.seed)  # same initial weights on every rank (DDP also broadcasts them)
    network = SiameseNetwork(model_config)
    if cfg.get("init"):
        network.load_state_dict(ModelPackage.load(cfg["init"]).state_dict)

    start_epoch, history, best_eer, best_state, stale = 0, [], math.inf, None, 0
    restored = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            restored = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)
        network.load_state_dict(restored["model"])
        start_epoch, history = int(restored["epoch"]) + 1, list(restored["history"])
        best_eer, best_state, stale = float(restored["best_eer"]), restored["best_state"], int(restored["stale"])

    objective = make_objective(config.objective)
    module = ObjectiveModule(network, objective)
    # one-class leaves the spoof prototypes unused: DDP must be told.
    strategy = {"find_unused_parameters": config.objective == "oneclass"}
    model = ray.train.torch.prepare_model(module, parallel_strategy_kwargs=strategy)
    total_batches = config.batches_per_epoch or max(1, cfg["n_train"] // config.batch_size)
    steps = max(1, math.ceil(total_batches / world))
    optimizer, scheduler = make_optimizer(model, config, steps)
    if restored is not None:
        optimizer.load_state_dict(restored["optimizer"])
        scheduler.load_state_dict(restored["scheduler"])

    window = model_config.audio.window_samples
    for epoch in range(start_epoch, config.epochs):
        seed_epoch(config.seed, epoch, rank)  # dropout masks: a resumed run draws what an uninterrupted one would
        rng = np.random.default_rng([config.seed, epoch, rank])
        sampler = BalancedBatchSampler(clips.labels, clips.groups, config.batch_size, steps, seed=config.seed * 7919 + epoch * 31 + rank)
        model.train()
        losses = []
        for indices in sampler:
            crops = torch.from_numpy(random_crops([clips.waveforms[i] for i in indices], window, rng)).to(device)
            labels = torch.from_numpy(clips.labels[indices]).to(device)
            loss = model(crops, labels, use_amp)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        loss_mean = float(np.mean([x for part in _gather(losses) for x in part]))
        eer = dev_eer(network, cfg["dev_rows"], rank, world, device)
        if eer < best_eer - 1e-6:
            best_eer, stale = eer, 0
            if config.keep_best:  # else the package takes the last epoch's weights (`model` below)
                best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
        record = {"epoch": epoch, "loss": loss_mean, "dev_eer": eer, "lr": float(scheduler.get_last_lr()[0])}
        history.append(record)
        stop = stale >= config.patience or epoch == config.epochs - 1
        report = {**record, "best_dev_eer": best_eer, "start_epoch": start_epoch, "stopped": stop}
        with tempfile.TemporaryDirectory() as folder:
            ckpt = None
            if rank == 0:
                torch.save({
                    "model": {k: v.detach().cpu() for k, v in network.state_dict().items()},
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "epoch": epoch, "history": history, "best_eer": best_eer,
                    "best_state": best_state, "stale": stale,
                }, Path(folder) / STATE_FILE)
                ckpt = ray.train.Checkpoint.from_directory(folder)
            ray.train.report(report, checkpoint=ckpt, checkpoint_dir_name=f"epoch-{epoch:04d}")
        if stop:
            break
