"""The back-end test on frozen features: heads train on the CNN protocol's rows of each fold and are
scored on the held-out families; evidence every family shares transfers, one page's own cue does not."""

from __future__ import annotations

import numpy as np

from tests.lofo_helpers import demo_pages
from jobs.evaluate.head_families import HeadPlan, markdown, run


PLANS = {"probe": None,
         "contrastive": HeadPlan("contrastive", steps=150, check_every=50, embedding_dim=8),
         "one-class fixed": HeadPlan("oneclass", steps=150, choose_on_dev=False, embedding_dim=8)}


def test_shared_evidence_transfers_through_every_head_and_one_page_s_cue_does_not():
    rng = np.random.default_rng(0)
    table = demo_pages(rng)
    bona = (table["label"] == "bonafide").to_numpy()
    shared = rng.normal(size=(len(table), 6))
    shared[:, 0] += np.where(bona, 3.0, -3.0)  # the same evidence in every family
    results = run(table, shared, seeds=[0, 1], plans=PLANS)
    for name in PLANS:
        for fold in ("codec", "vc", "flow+diffusion", "vocoder"):
            assert np.mean(results[name][fold]) < 0.1, (name, fold)
    assert len(results["contrastive"]["vc"]) == 2 and len(results["probe"]["vc"]) == 1
    own = rng.normal(size=(len(table), 6))
    on_vc_page = (table["group"] == "page-vc").to_numpy()
    own[on_vc_page, 0] += np.where(bona[on_vc_page], 3.0, -3.0)
    only_vc = run(table, own, seeds=[0], plans={"contrastive": PLANS["contrastive"]})
    assert only_vc["contrastive"]["codec"][0] > 0.25  # learnt on the vc page, absent on the codec page
    text = markdown(results)
    assert "| contrastive |" in text and "± " in text
