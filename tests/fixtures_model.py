"""Shared test fixtures: a tiny separable synthetic data set and a tiny trained package.

Import the fixtures into a test module (`from tests.fixtures_model import tiny_package, ...`);
they are session-scoped so the few seconds of training happen once per test run.
Bona fide here = broadband noise; spoof = quieter noise plus a strong high tone,
an artefact a 3-block CNN learns in a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from siamese.config import ModelConfig
from siamese.package import ModelPackage
from siamese.training import ClipSet, TrainConfig, package_model, train_model

RATE = 16000

# One intra-op thread: on a shared 2-core machine extra OpenMP threads spin-wait and make
# these tiny models several times slower (measured: 23 s vs 128 s for the fixture training).
torch.set_num_threads(1)

# 1 s windows, 0.5 s hop, a narrow CNN: fast on two CPU cores.
TINY_CONFIG = ModelConfig().replace(audio={"window_s": 1.0, "hop_s": 0.5}, encoder={"channels": (8, 16, 32)})


def synthetic_clip(label: int, rng: np.random.Generator, seconds: float | None = None) -> np.ndarray:
    """One clip: label 1 (bona fide) = noise, 0 (spoof) = noise + a 5-7 kHz tone."""
    n = int(RATE * (seconds if seconds is not None else rng.uniform(1.0, 3.0)))
    x = rng.normal(size=n).astype(np.float32) * 0.1
    if label == 0:
        t = np.arange(n) / RATE
        x = x * 0.3 + 0.2 * np.sin(2 * np.pi * rng.uniform(5000, 7000) * t).astype(np.float32)
    return x


def synthetic_clipset(n_per_class: int, seed: int) -> ClipSet:
    """`n_per_class` bona fide then `n_per_class` spoof clips, three speakers, one generator."""
    rng = np.random.default_rng(seed)
    waves = [synthetic_clip(1, rng) for _ in range(n_per_class)] + [synthetic_clip(0, rng) for _ in range(n_per_class)]
    labels = np.array([1] * n_per_class + [0] * n_per_class)
    return ClipSet(
        waveforms=waves,
        labels=labels,
        groups=[f"s{i % 3}" if y == 1 else "gen" for i, y in enumerate(labels)],
        generators=["bonafide" if y == 1 else "gen" for y in labels],
        clip_ids=[f"seed{seed}-clip{i}" for i in range(len(labels))],
    )


@pytest.fixture(scope="session")
def tiny_sets() -> tuple[ClipSet, ClipSet, ClipSet]:
    """(train, dev, test) synthetic sets, disjoint by seed."""
    return synthetic_clipset(24, seed=0), synthetic_clipset(10, seed=1), synthetic_clipset(10, seed=2)


@pytest.fixture(scope="session")
def tiny_training(tiny_sets):  # noqa: ANN001, ANN201 - pytest fixture
    """(package, history) of a short training run on the tiny sets."""
    torch.manual_seed(0)
    train, dev, test = tiny_sets
    network, history = train_model(
        TINY_CONFIG, train, dev, TrainConfig(epochs=8, batch_size=16, batches_per_epoch=6, patience=8)
    )
    package = package_model(network, dev, test, train.clip_ids, {"objective": "contrastive"})
    return package, history


@pytest.fixture(scope="session")
def tiny_package(tiny_training) -> ModelPackage:  # noqa: ANN001
    """The tiny trained package (in memory)."""
    return tiny_training[0]


@pytest.fixture(scope="session")
def tiny_package_path(tiny_package, tmp_path_factory) -> Path:  # noqa: ANN001
    """The tiny trained package saved to a file."""
    return tiny_package.save(tmp_path_factory.mktemp("model") / "tiny.vxpkg")
