"""Fixtures for the scoring-job tests: a tiny trained model package, local Ray, test audio.

The model is trained in a few seconds on synthetic, clearly separable data:
"real-like" = broadband noise, "synthetic-like" = quieter noise plus a strong
5-7 kHz tone. Test clips are drawn from the same two distributions, so the
model's verdicts on them are meaningful (used by the per-segment test).
Import the fixtures into a test module with `from tests.fixtures_score import *`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

RATE = 16000

__all__ = ["score_model", "ray_local", "local_ray", "real_like", "synthetic_like", "write_clip", "RATE"]


def real_like(seconds: float, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Bona-fide-like samples of the fixture model's training distribution."""
    return (rng.normal(size=int(seconds * rate)) * 0.1).astype(np.float32)


def synthetic_like(seconds: float, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Spoof-like samples of the fixture model's training distribution."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = 0.2 * np.sin(2 * np.pi * rng.uniform(5000, 7000) * t)
    return (rng.normal(size=n) * 0.03 + tone).astype(np.float32)


def write_clip(path: Path, samples: np.ndarray, rate: int = RATE, **kwargs: object) -> Path:
    """Write samples with soundfile (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, **kwargs)
    return path


@pytest.fixture(scope="session")
def score_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny trained model package (1 s windows, 0.5 s hop)."""
    import torch

    from siamese.config import ModelConfig
    from siamese.training import ClipSet, TrainConfig, package_model, train_model

    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def clips(n: int) -> ClipSet:
        waves = [real_like(rng.uniform(1, 3), rng) for _ in range(n)] + [
            synthetic_like(rng.uniform(1, 3), rng) for _ in range(n)
        ]
        return ClipSet(
            waves,
            np.array([1] * n + [0] * n),
            [f"s{i % 3}" for i in range(2 * n)],
            ["bonafide"] * n + ["gen"] * n,
            [f"c{i}" for i in range(2 * n)],
        )

    config = ModelConfig().replace(audio={"window_s": 1.0, "hop_s": 0.5}, encoder={"channels": (8, 16)})
    train, dev = clips(16), clips(8)
    network, _ = train_model(config, train, dev, TrainConfig(epochs=2, batch_size=16, batches_per_epoch=5))
    package = package_model(network, dev, None, train.clip_ids, {"objective": "contrastive"})
    return package.save(tmp_path_factory.mktemp("model") / "tiny.vxpkg")


def local_ray():  # type: ignore[no-untyped-def]
    """Start an embedded 2-CPU Ray, yield its handle, shut it down (a generator for fixtures)."""
    from cluster.local import init_ray, shutdown_ray

    handle = init_ray(address="local", num_cpus=2, object_store_memory=300 * 1024**2)
    try:
        yield handle
    finally:
        shutdown_ray()


@pytest.fixture(scope="module")
def ray_local():  # type: ignore[no-untyped-def]
    """An embedded Ray for one test module (module scope: workers inherit the env at start)."""
    yield from local_ray()
