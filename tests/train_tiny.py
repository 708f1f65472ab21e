"""A tiny on-disk corpus for the training-job tests: synthetic 16 kHz clips and a Parquet manifest.

Bona fide clips are noise with a low hum; spoof clips add gated high tone
bursts (the front-end normalises each frequency bin over time, so a steady
tone would vanish) whose pitch and rate depend on the "generator".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from siamese.config import ModelConfig

SR = 16000


def tiny_model_config() -> ModelConfig:
    """A network small enough to train in seconds."""
    return ModelConfig().replace(
        audio={"window_s": 0.5, "hop_s": 0.25},
        encoder={"channels": (4, 8), "embedding_dim": 16},
        frontend={"kind": "logmel", "n_mels": 32},
    )


def _clip(rng: np.random.Generator, spoof: bool, generator: int) -> np.ndarray:
    n = int(SR * rng.uniform(0.6, 1.2))
    t = np.arange(n) / SR
    x = 0.05 * rng.normal(size=n) + 0.1 * np.sin(2 * np.pi * rng.uniform(100, 300) * t)
    if spoof:
        gate = np.sin(2 * np.pi * (6 + generator) * t) > 0
        x += 0.2 * gate * np.sin(2 * np.pi * (3000 + 400 * generator) * t)
    return x.astype(np.float32)


def write_tiny_corpus(root: Path, per_split: int = 16, seed: int = 0) -> Path:
    """Write clips and `manifest.parquet` under `root`; returns the manifest path."""
    rng = np.random.default_rng(seed)
    rows = []
    gens = {"train": [0, 1, 2], "dev": [3], "test": [4]}
    for split, n in (("train", per_split * 2), ("dev", per_split), ("test", per_split)):
        for i in range(n):
            spoof = i % 2 == 1
            gen = gens[split][i % len(gens[split])]
            path = root / "clips" / f"{split}-{i}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, _clip(rng, spoof, gen), SR, subtype="PCM_16")
            rows.append({
                "clip_id": f"{split}-{i}", "path": str(path), "label": "spoof" if spoof else "bonafide",
                "generator": f"gen{gen}" if spoof else "bonafide", "family": "tts-test" if spoof else "bonafide",
                "speaker": f"{split}-spk{i % 4}", "source": "tiny", "language": "en", "split": split,
                "licence": "CC0", "origin": "synthetic", "augmentation": "", "duration_s": 1.0,
            })
    manifest = root / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    return manifest


def write_new_channel_archive(folder: Path, n: int, seed: int = 7) -> list[Path]:
    """Bona fide clips from a "new channel" carrying 2.2 kHz bursts (generator index -2).

    A model trained on the tiny corpus mistakes them for synthetic: the feedback
    and enrollment tests use them as the reviewers' corrections.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"channel-b-{i:02d}.flac"
        soundfile.write(path, _clip(rng, spoof=True, generator=-2), SR, subtype="PCM_16")
        paths.append(path)
    return paths
