"""The leave-family-out probe trains on exactly the CNN protocol's training rows and scores each fold's
held-out families with their pages' real recordings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.evaluate.probe_families import markdown, run

FAMILIES = ("codec-lm", "vc", "flow-matching", "vocoder-copysynthesis", "tts-neural")


def _clips(rng: np.random.Generator) -> pd.DataFrame:
    """Per family one demo page: 20 spoofs and 20 real recordings, split train/dev by row."""
    rows = []
    for family in FAMILIES:
        for label in ("spoof", "bonafide"):
            for i in range(20):
                rows.append({"path": f"/c/{family}/{label}{i}.wav", "label": label, "family": family if label == "spoof"
                             else "bonafide", "generator": f"{family}-system" if label == "spoof" else "real",
                             "split": "dev" if i % 5 == 0 else "train", "augmentation": "", "group": f"page-{family}"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)


def test_a_cue_shared_by_every_family_transfers_and_one_family_s_own_cue_does_not():
    rng = np.random.default_rng(0)
    table = _clips(rng)
    bona = (table["label"] == "bonafide").to_numpy()
    shared = rng.normal(size=(len(table), 4))
    shared[:, 0] += np.where(bona, 2.5, -2.5)  # the same evidence in every family
    # Evidence on one family's page only: a probe that learns it there has nothing to go on elsewhere.
    own = rng.normal(size=(len(table), 4))
    on_vc_page = (table["group"] == "page-vc").to_numpy()
    own[on_vc_page, 0] += np.where(bona[on_vc_page], 2.5, -2.5)
    results = run(table, {"shared": shared, "vc only": own})
    for fold in ("codec", "vc", "flow+diffusion", "vocoder"):
        assert results["shared"][fold]["held-out"] < 0.1, fold
    assert results["vc only"]["codec"]["held-out"] > 0.25  # learnt on the vc page, absent on the codec page
    text = markdown(results)
    assert "| shared |" in text and "| vc only |" in text
