"""The leave-family-out probe trains on exactly the CNN protocol's training rows and scores each fold's
held-out families with their pages' real recordings."""

from __future__ import annotations

import numpy as np

from tests.lofo_helpers import demo_pages
from jobs.evaluate.probe_families import markdown, run


def test_a_cue_shared_by_every_family_transfers_and_one_family_s_own_cue_does_not():
    rng = np.random.default_rng(0)
    table = demo_pages(rng)
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
