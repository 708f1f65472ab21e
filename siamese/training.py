"""Framework-free training pieces shared by the Ray Train job, retraining and tests.

`ClipSet` holds decoded 16 kHz clips; training draws balanced batches of random
window crops (a fresh crop each time: cheap augmentation in time), evaluation
scores every window of every clip and averages, exactly as serving does.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from siamese import metrics
from siamese.calibration import OPERATING_METHODS, Calibration, OperatingMethod, OperatingPoint, choose_operating_point
from siamese.config import AudioConfig, ModelConfig, ObjectiveKind
from siamese.losses import make_objective
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage, data_fingerprint
from siamese.sampler import BalancedBatchSampler
from siamese.windowing import make_windows, pad_window


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the network's own settings are in `ModelConfig`)."""

    objective: ObjectiveKind = "contrastive"
    epochs: int = 12
    batch_size: int = 32
    # Batches per epoch summed over all workers (None: one pass over the train clips).
    batches_per_epoch: int | None = None
    lr: float = 2e-3
    weight_decay: float = 1e-3
    warmup_epochs: int = 1
    # Epochs without a dev-EER gain before stopping.
    patience: int = 4
    # Same seed, same data and settings -> the same weights (one CPU worker; see `jobs.train.loop`).
    seed: int = 0
    # True: keep the epoch with the best dev EER; False: the last epoch's weights (retraining,
    # where the dev split knows nothing of the feedback and the champion/challenger gate selects).
    keep_best: bool = True
    # How the decision threshold is chosen on the dev split: "cost" (minDCF, P(spoof) 0.05, C_fa 10),
    # "eer", or "frr" (reject at most `target_frr` of dev's real recordings).
    operating_point: OperatingMethod = "cost"
    target_frr: float = 0.05

    def __post_init__(self) -> None:
        if self.operating_point not in OPERATING_METHODS:
            raise ValueError(f"operating_point must be one of {OPERATING_METHODS}, got {self.operating_point!r}")
        if not 0.0 <= self.target_frr < 1.0:
            raise ValueError(f"target_frr must be in [0, 1), got {self.target_frr}")


@dataclass
class ClipSet:
    """Decoded clips with labels (1 = bona fide, 0 = spoof) and grouping metadata."""

    waveforms: list[np.ndarray]
    labels: np.ndarray
    groups: list[str]  # sampler groups: speaker for bona fide, generator for spoof
    generators: list[str]
    clip_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waveforms)

    def subset(self, indices: Sequence[int]) -> "ClipSet":
        """Rows at `indices` (for DDP sharding and splits)."""
        return ClipSet(
            waveforms=[self.waveforms[i] for i in indices],
            labels=self.labels[list(indices)],
            groups=[self.groups[i] for i in indices],
            generators=[self.generators[i] for i in indices],
            clip_ids=[self.clip_ids[i] for i in indices] if self.clip_ids else [],
        )


def use_deterministic_kernels() -> None:
    """Same seed, same weights: no autotuned or atomics-based kernels.

    CPU kernels are already deterministic at a fixed thread count; on GPU, cuDNN
    autotuning and atomic-add backward kernels would make runs differ.
    `warn_only`: an op without a deterministic version warns instead of failing.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts; needed for reproducible matmuls
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Seed torch's (dropout), numpy's and Python's global RNGs from (seed, epoch, rank).

    Per epoch rather than once per run, so a run resumed from a checkpoint draws
    the same dropout masks as one that was never interrupted.
    """
    value = int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])
    torch.manual_seed(value)
    np.random.seed(value)
    random.seed(value)


def random_crops(waveforms: Sequence[np.ndarray], window: int, rng: np.random.Generator) -> np.ndarray:
    """One random `window`-sample crop per waveform (repeat-padded when shorter)."""
    batch = np.empty((len(waveforms), window), dtype=np.float32)
    for row, wave in enumerate(waveforms):
        if len(wave) <= window:
            batch[row] = pad_window(wave, window)
        else:
            start = int(rng.integers(0, len(wave) - window + 1))
            batch[row] = wave[start : start + window]
    return batch


def train_epoch(
    network: nn.Module,
    bank_owner: SiameseNetwork,
    objective: nn.Module,
    optimizer: torch.optim.Optimizer,
    clips: ClipSet,
    config: TrainConfig,
    audio: AudioConfig,
    epoch: int,
    device: torch.device,
    scheduler: Any = None,
    use_amp: bool = False,
) -> float:
    """One epoch of balanced batches; returns the mean loss.

    `network` may be a DDP wrapper; `bank_owner` is the underlying SiameseNetwork
    (the objective needs its reference bank).
    """
    rng = np.random.default_rng(config.seed * 100_003 + epoch)
    sampler = BalancedBatchSampler(
        clips.labels, clips.groups, config.batch_size, config.batches_per_epoch, seed=config.seed + epoch
    )
    network.train()
    losses = []
    for indices in sampler:
        crops = torch.from_numpy(random_crops([clips.waveforms[i] for i in indices], audio.window_samples, rng))
        labels = torch.from_numpy(clips.labels[indices]).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            embeddings = network(crops.to(device))
        loss = objective(embeddings.float(), labels, bank_owner.bank)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


@torch.inference_mode()
def clip_scores(
    network: SiameseNetwork, clips: ClipSet, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Clip-level raw scores: the mean of all window scores, as the detector computes them."""
    network.eval()
    audio = network.config.audio
    scores = np.empty(len(clips), dtype=np.float64)
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        frames = np.concatenate([f for _, f in pending])
        window_scores = network.score(torch.from_numpy(frames).to(device)).float().cpu().numpy()
        offset = 0
        for index, f in pending:
            scores[index] = window_scores[offset : offset + len(f)].mean()
            offset += len(f)
        pending.clear()

    queued = 0
    for index, wave in enumerate(clips.waveforms):
        frames = make_windows(wave, audio).frames
        pending.append((index, frames))
        queued += len(frames)
        if queued >= batch_size:
            flush()
            queued = 0
    if pending:
        flush()
    return scores


def make_optimizer(network: nn.Module, config: TrainConfig, steps_per_epoch: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW with linear warm-up then cosine decay, stepped per batch."""
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total = max(1, config.epochs * steps_per_epoch)
    warmup = max(1, config.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def calibrate(dev_scores: np.ndarray, dev_labels: np.ndarray, method: OperatingMethod = "cost",
              target_frr: float = 0.05) -> tuple[Calibration, OperatingPoint]:
    """Calibration and operating point (`choose_operating_point`'s method) fitted on dev clip scores."""
    calibration = Calibration.fit(dev_scores, dev_labels)
    point = choose_operating_point(dev_scores, dev_labels, calibration, method=method, target_frr=target_frr)
    return calibration, point


def evaluate(
    network: SiameseNetwork,
    clips: ClipSet,
    calibration: Calibration,
    point: OperatingPoint,
    device: torch.device,
) -> dict[str, Any]:
    """Metrics card of `clips` (never the data the model was fitted on)."""
    return metrics_from_scores(clip_scores(network, clips, device), clips, calibration, point)


def metrics_from_scores(
    scores: np.ndarray, clips: ClipSet, calibration: Calibration, point: OperatingPoint,
) -> dict[str, Any]:
    """`evaluate`'s card from scores already computed (a caller that needs the scores too scores once)."""
    return metrics.metrics_card(
        scores,
        clips.labels,
        llrs=calibration.llr(scores),
        groups=clips.generators,
        threshold=point.threshold,
        probs=calibration.prob_bonafide(scores),
    )


def fit_mahalanobis(network: SiameseNetwork, clips: ClipSet, device: torch.device) -> None:
    """Fit the bank's precision matrix on bona fide training embeddings (no-op for other comparisons)."""
    if network.config.comparison.kind != "mahalanobis":
        return
    network.eval()
    bona = [w for w, y in zip(clips.waveforms, clips.labels, strict=True) if y == 1]
    with torch.inference_mode():
        frames = np.concatenate([make_windows(w, network.config.audio).frames for w in bona[:500]])
        embeddings = torch.cat([network(torch.from_numpy(frames[i : i + 64]).to(device)) for i in range(0, len(frames), 64)])
    network.bank.fit_precision(embeddings)


def train_model(
    model_config: ModelConfig,
    train: ClipSet,
    dev: ClipSet,
    config: TrainConfig,
    device: torch.device | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
    on_epoch: Callable[[int, dict[str, float], SiameseNetwork], None] | None = None,
) -> tuple[SiameseNetwork, list[dict[str, float]]]:
    """Single-process training with early stopping on dev EER; returns the best network and history."""
    device = device or torch.device("cpu")
    torch.manual_seed(config.seed)
    network = SiameseNetwork(model_config).to(device)
    if init_state is not None:
        network.load_state_dict(init_state)
    objective = make_objective(config.objective)
    steps = config.batches_per_epoch or max(1, len(train) // config.batch_size)
    optimizer, scheduler = make_optimizer(network, config, steps)
    history: list[dict[str, float]] = []
    best_eer, best_state, stale = float("inf"), None, 0
    for epoch in range(config.epochs):
        loss = train_epoch(network, network, objective, optimizer, train, config, model_config.audio, epoch, device, scheduler)
        dev_eer, _ = metrics.eer(clip_scores(network, dev, device), dev.labels)
        record = {"epoch": epoch, "loss": loss, "dev_eer": float(dev_eer)}
        history.append(record)
        if on_epoch:
            on_epoch(epoch, record, network)
        if dev_eer < best_eer - 1e-6:
            best_eer, stale = dev_eer, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None and config.keep_best:
        network.load_state_dict(best_state)
    fit_mahalanobis(network, train, device)
    return network.eval(), history


def package_model(
    network: SiameseNetwork,
    dev: ClipSet,
    test: ClipSet | None,
    train_ids: list[str],
    training_info: dict[str, Any],
    device: torch.device | None = None,
    extra_metrics: dict[str, Any] | None = None,
    operating_point: OperatingMethod = "cost",
    target_frr: float = 0.05,
) -> ModelPackage:
    """Calibrate on dev, evaluate on test, and wrap everything into a `ModelPackage`."""
    device = device or torch.device("cpu")
    dev_scores = clip_scores(network, dev, device)
    calibration, point = calibrate(dev_scores, dev.labels, operating_point, target_frr)
    card: dict[str, Any] = {"dev": metrics.metrics_card(dev_scores, dev.labels, llrs=calibration.llr(dev_scores))}
    if test is not None and len(test):
        card["test"] = evaluate(network, test, calibration, point, device)
    card.update(extra_metrics or {})
    info = dict(training_info)
    info["data_fingerprint"] = data_fingerprint(train_ids)
    info["n_train_clips"] = len(train_ids)
    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    return ModelPackage(
        config=network.config,
        state_dict=state,
        calibration=calibration,
        operating_point=point,
        metrics=card,
        training=info,
    )
