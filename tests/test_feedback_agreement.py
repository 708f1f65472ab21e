"""Chance-corrected agreement (feedback.stats): Cohen's kappa per pair, Krippendorff's alpha, model confusion."""

from __future__ import annotations

import pytest
from feedback_helpers import row, scored_items, verdict

from dashboard_support import app_as
from feedback.db import session_factory
from feedback.stats import model_confusion, overall_agreement, pair_agreement


@pytest.fixture
def factory(db_url):
    f = session_factory(db_url)
    yield f
    f.kw["bind"].dispose()


def _review(factory, plan):
    uris = sorted({u for u, _, _ in plan})
    ids = scored_items(factory, [row(u, confidence=0.6) for u in uris])
    for uri, who, value in plan:
        verdict(factory, ids[uri], who, value)
    return ids


# Hand-computed: alice s s b b, bob s b b b -> observed 0.75, expected 0.5, kappa 0.5;
# Krippendorff's alpha (nominal, 2 raters x 4 units) = 1 - 7 * 2 / 30 = 0.5333.
PLAN = [("/x/1.wav", "alice", "spoof"), ("/x/1.wav", "bob", "spoof"),
        ("/x/2.wav", "alice", "spoof"), ("/x/2.wav", "bob", "bonafide"),
        ("/x/3.wav", "alice", "bonafide"), ("/x/3.wav", "bob", "bonafide"),
        ("/x/4.wav", "alice", "bonafide"), ("/x/4.wav", "bob", "bonafide")]


def test_kappa_and_alpha_match_hand_computed_values(factory):
    _review(factory, PLAN + [("/x/5.wav", "carol", "spoof")])  # carol shares no clip: no pair, no unit
    with factory() as s:
        pairs = pair_agreement(s)
        overall = overall_agreement(s)
    assert [(p.reviewer_a, p.reviewer_b, p.n_common) for p in pairs] == [("alice", "bob", 4)]
    assert pairs[0].observed == pytest.approx(0.75) and pairs[0].kappa == pytest.approx(0.5)
    assert overall.alpha == pytest.approx(1 - 14 / 30) and overall.n_items == 4 and overall.n_reviewers == 3


def test_undefined_statistics_are_none_not_nan(factory):
    _review(factory, [("/y/1.wav", "alice", "spoof"), ("/y/1.wav", "bob", "spoof"),
                      ("/y/2.wav", "alice", "spoof"), ("/y/2.wav", "bob", "spoof")])
    with factory() as s:
        assert pair_agreement(s)[0].kappa is None  # both always "spoof": chance agreement is 1
        assert overall_agreement(s).alpha is None
    with factory() as s:
        assert pair_agreement(s, min_common=3) == []


def test_model_confusion_counts_final_verdicts_by_model_label(factory):
    _review(factory, [("/z/1.wav", "alice", "spoof"), ("/z/2.wav", "alice", "bonafide"),
                      ("/z/3.wav", "alice", "bonafide"), ("/z/4.wav", "alice", "unsure")])
    with factory() as s:
        assert model_confusion(s) == {"spoof": {"spoof": 1, "bonafide": 2}}  # unsure decides nothing


def test_the_reviewers_page_shows_alpha_kappa_and_the_confusion_matrix(factory, db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    _review(factory, PLAN)
    at = app_as("carol", role="lead", page="reviewers")
    assert not at.exception
    assert at.metric[0].value == "0.53"
    kappa = at.dataframe[0].value
    assert kappa["kappa"].tolist() == [pytest.approx(0.5)]
    assert len(at.get("vega_lite_chart")) == 1
