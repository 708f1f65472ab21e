"""A tiny leave-family-out table for the probe and head tests: one demo page per family."""

from __future__ import annotations

import numpy as np
import pandas as pd

FAMILIES = ("codec-lm", "vc", "flow-matching", "vocoder-copysynthesis", "tts-neural")


def demo_pages(rng: np.random.Generator) -> pd.DataFrame:
    """Per family one demo page: 20 spoofs and 20 real recordings, split train/dev by row."""
    rows = []
    for family in FAMILIES:
        for label in ("spoof", "bonafide"):
            for i in range(20):
                rows.append({"path": f"/c/{family}/{label}{i}.wav", "label": label,
                             "family": family if label == "spoof" else "bonafide",
                             "generator": f"{family}-system" if label == "spoof" else "real",
                             "split": "dev" if i % 5 == 0 else "train", "augmentation": "", "group": f"page-{family}"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
