"""The frozen-feature probe's model selection: C is chosen on the dev split, never on the devset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.evaluate.probe import probe, table_markdown


def _table(n: int, split: str, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"label": rng.permutation(["bonafide", "spoof"] * (n // 2)), "split": split})


def test_probe_separates_what_is_separable_and_reports_every_split():
    rng = np.random.default_rng(0)
    table = pd.concat([_table(200, "train", rng), _table(100, "dev", rng), _table(100, "test", rng),
                       _table(60, "devset", rng)], ignore_index=True)
    bona = (table.label == "bonafide").to_numpy()
    features = rng.normal(size=(len(table), 8))
    features[:, 0] += np.where(bona, 2.0, -2.0)  # one informative dimension, the same in every split
    # On the devset the cue is reversed (a corpus shortcut): the probe must report that, not avoid it.
    devset = (table.split == "devset").to_numpy()
    features[devset, 0] *= -1
    result = probe(features, table)
    assert result["train"] < 0.1 and result["dev"] < 0.1 and result["test"] < 0.1
    assert result["devset"] > 0.9
    assert "| x | " in table_markdown({"x": result})
