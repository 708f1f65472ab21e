"""Hand-computed checks of siamese.metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from siamese import metrics as M

# 4 + 4 example used throughout; sorted distinct thresholds and (FRR, FAR):
# 0.1:(0,1) 0.2:(0,.75) 0.3:(0,.5) 0.4:(.25,.5) 0.6:(.25,.25) 0.7:(.5,.25) 0.8:(.5,0) 0.9:(.75,0)
BONA = [0.9, 0.8, 0.6, 0.3]
SPOOF = [0.7, 0.4, 0.2, 0.1]
SCORES = np.array(BONA + SPOOF)
LABELS = np.array([1] * 4 + [0] * 4)


def test_eer_perfect_separation_is_zero():
    e, t = M.eer([2.0, 3.0, -1.0, 0.0], [1, 1, 0, 0])
    assert e == 0.0
    # The threshold really separates the classes.
    assert M.accuracy_at([2.0, 3.0, -1.0, 0.0], [1, 1, 0, 0], t) == 1.0


def test_eer_fully_overlapped_is_half():
    e, _ = M.eer([0.5] * 3 + [0.5] * 5, [1] * 3 + [0] * 5)
    assert e == pytest.approx(0.5)


def test_eer_reversed_scores_is_one():
    e, _ = M.eer([0.0, 1.0], [1, 0])
    assert e == pytest.approx(1.0)


def test_eer_hand_example_exact_crossing():
    e, t = M.eer(SCORES, LABELS)
    assert e == pytest.approx(0.25)
    assert t == pytest.approx(0.6)


def test_eer_interpolates_between_points():
    # Points (FRR, FAR): t=1.5 -> (1/3, 1/2), t=2 -> (1/3, 0): crossing a third of the way.
    e, t = M.eer([1.0, 2.0, 3.0, 0.0, 1.5], [1, 1, 1, 0, 0])
    assert e == pytest.approx(1 / 3)
    assert t == pytest.approx(1.5 + 0.5 / 3)


def test_eer_tiny_set_and_ties_between_classes():
    assert M.eer([1.0, 0.0], [1, 0])[0] == 0.0
    # One tie between a bona fide and a spoof score: points (0,1) -> (0,.5) -> (.5,0) -> (1,0).
    e, _ = M.eer([1.0, 2.0, 1.0, 0.0], [1, 1, 0, 0])
    assert e == pytest.approx(0.25)


def test_eer_matches_brute_force_on_random_data():
    rng = np.random.default_rng(1)
    s = np.round(np.concatenate([rng.normal(1, 1, 300), rng.normal(0, 1, 200)]), 1)  # rounding => ties
    y = np.r_[np.ones(300), np.zeros(200)]
    e, _ = M.eer(s, y)
    # Any threshold's max(FRR, FAR) bounds the EER from above, min(FRR, FAR) from below.
    frr = np.array([np.mean(s[y == 1] < t) for t in np.unique(s)])
    far = np.array([np.mean(s[y == 0] >= t) for t in np.unique(s)])
    assert e <= np.min(np.maximum(frr, far)) + 1e-12
    i = np.argmin(np.abs(frr - far))
    assert abs(e - 0.5 * (frr[i] + far[i])) < 0.02
    assert 0.25 < e < 0.40  # d' = 1 => theoretical EER ~ 0.31


def test_det_and_roc_curves():
    frr, far, thr = M.det_curve(SCORES, LABELS)
    np.testing.assert_allclose(frr, [0, 0, 0, 0.25, 0.25, 0.5, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(far, [1, 0.75, 0.5, 0.5, 0.25, 0.25, 0, 0, 0])
    assert np.all(np.diff(thr) > 0) and thr[-1] > 0.9
    fpr, tpr, rthr = M.roc_curve(SCORES, LABELS)
    np.testing.assert_allclose(fpr, far[::-1])
    np.testing.assert_allclose(tpr, 1 - frr[::-1])
    assert np.all(np.diff(rthr) < 0)


def test_roc_auc_hand_examples():
    # Bona-beats-spoof pairs: 4 + 4 + 3 + 2 = 13 of 16.
    assert M.roc_auc(SCORES, LABELS) == pytest.approx(13 / 16)
    # A tie counts one half: (0.5 + 1 + 1 + 1) / 4.
    assert M.roc_auc([1.0, 2.0, 1.0, 0.0], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert M.roc_auc([3.0, 1.0], [1, 0]) == 1.0


def test_min_dcf_hand_example():
    # w_miss = 0.95, w_fa = 0.5, norm = 0.5. Best point t=0.3: (0.95*0 + 0.5*0.5)/0.5 = 0.5.
    m, t = M.min_dcf(SCORES, LABELS)
    assert m == pytest.approx(0.5)
    assert t == pytest.approx(0.3)
    # With equal costs and prior the minimum is at t=0.6: (0.5*.25 + 0.5*.25)/0.5 = 0.5, vs
    # t=0.3: (0 + 0.5*.5)/.5 = 0.5 as well -> ties go to the lowest threshold.
    m2, t2 = M.min_dcf(SCORES, LABELS, p_spoof=0.5, c_miss=1, c_fa=1)
    assert m2 == pytest.approx(0.5) and t2 == pytest.approx(0.3)
    # Perfect system costs nothing; a hopeless one costs the trivial 1.0.
    assert M.min_dcf([2.0, 3.0, 0.0], [1, 1, 0])[0] == 0.0
    assert M.min_dcf([0.0, 1.0], [1, 0])[0] == pytest.approx(1.0)


def test_act_dcf_hand_example():
    # Bayes threshold log(0.5/0.95) = -0.642: bona -1 is a miss, spoof 0 is a false alarm.
    assert M.bayes_threshold() == pytest.approx(math.log(0.5 / 0.95))
    v = M.act_dcf([2.0, -1.0, -2.0, 0.0], [1, 1, 0, 0])
    assert v == pytest.approx((0.95 * 0.5 + 0.5 * 0.5) / 0.5)


def test_cllr_values():
    assert M.cllr(np.zeros(6), [1, 1, 1, 0, 0, 0]) == 1.0
    # Strongly right LLRs cost ~0, strongly wrong ones cost a lot.
    assert M.cllr([50.0, -50.0], [1, 0]) < 1e-10
    assert M.cllr([-5.0, 5.0], [1, 0]) == pytest.approx(math.log2(1 + math.exp(5)))


def test_accuracy_and_balanced_accuracy():
    # t=0.5 on the 4+4 example: bona accepted 3/4, spoof rejected 3/4.
    assert M.accuracy_at(SCORES, LABELS, 0.5) == pytest.approx(6 / 8)
    assert M.balanced_accuracy_at(SCORES, LABELS, 0.5) == pytest.approx(0.75)
    # Imbalanced: accept everything -> accuracy 3/4 but balanced 0.5.
    assert M.accuracy_at([1, 1, 1, 1], [1, 1, 1, 0], 0.0) == pytest.approx(0.75)
    assert M.balanced_accuracy_at([1, 1, 1, 1], [1, 1, 1, 0], 0.0) == pytest.approx(0.5)


def test_threshold_sweep_rows():
    probs = [0.9, 0.6, 0.4, 0.2, 0.55]
    labels = [1, 1, 1, 0, 0]
    rows = M.threshold_sweep(probs, labels)
    assert [r["threshold"] for r in rows] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    r = rows[4]  # t = 0.5: spoof-flagged = {0.4 (bona), 0.2 (spoof)}
    assert r["accuracy"] == pytest.approx(3 / 5)
    assert r["frr"] == pytest.approx(1 / 3)
    assert r["far"] == pytest.approx(1 / 2)
    assert r["balanced_accuracy"] == pytest.approx(7 / 12)
    assert r["precision_spoof"] == pytest.approx(1 / 2)
    assert r["recall_spoof"] == pytest.approx(1 / 2)
    assert r["f1_spoof"] == pytest.approx(1 / 2)
    # t = 0.1 flags nothing: precision defined as 0, FAR 1.
    assert rows[0]["precision_spoof"] == 0.0 and rows[0]["far"] == 1.0
    rows = M.threshold_sweep(probs, labels, thresholds=[0.95])
    assert rows[0]["frr"] == 1.0 and rows[0]["recall_spoof"] == 1.0


def test_per_group_eer():
    scores = [0.9, 0.8, 0.7, 0.1, 0.2, 0.85, 0.75]
    labels = [1, 1, 1, 0, 0, 0, 0]
    groups = ["bonafide", "bonafide", "x", "A", "A", "B", "B"]
    out = M.per_group_eer(scores, labels, groups)
    assert list(out) == ["A", "B"]  # bona fide names ignored, no empty group
    assert out["A"] == 0.0
    # B vs all bona: (FRR, FAR) t=.8 -> (1/3, 1/2), t=.85 -> (2/3, 1/2): crossing at 1/2.
    assert out["B"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        M.per_group_eer(scores, labels, groups[:-1])


def test_missing_class_raises():
    for fn in (M.eer, M.roc_auc, M.min_dcf, M.cllr, M.det_curve):
        with pytest.raises(ValueError, match="no spoof"):
            fn([0.1, 0.2], [1, 1])
        with pytest.raises(ValueError, match="no bona fide"):
            fn([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError):
        M.eer([0.1, float("nan")], [1, 0])
    with pytest.raises(ValueError):
        M.eer([0.1, 0.2], [1, 2])


def test_metrics_card_and_markdown():
    llrs = SCORES * 4 - 2
    groups = ["b"] * 4 + ["A", "B", "A", "B"]
    card = M.metrics_card(SCORES, LABELS, llrs=llrs, groups=groups, threshold=0.5, probs=SCORES)
    assert card["n_bonafide"] == 4 and card["n_spoof"] == 4
    assert card["eer"] == pytest.approx(0.25)
    assert card["min_dcf"] == pytest.approx(0.5)
    assert card["roc_auc"] == pytest.approx(13 / 16)
    assert card["accuracy"] == pytest.approx(0.75)
    assert set(card["per_group_eer"]) == {"A", "B"}
    assert len(card["threshold_sweep"]) == 9
    assert "act_dcf" in card and "cllr" in card
    # Plain Python types only: round-trips through JSON unchanged.
    assert json.loads(json.dumps(card)) == card
    for key, value in card.items():
        if isinstance(value, float):
            assert type(value) is float, key
    md = M.format_card_markdown(card, "Dev set")
    assert md.startswith("## Dev set")
    assert "| EER | 25.00% |" in md
    assert "| A |" in md and "| 0.50 |" in md
    minimal = M.metrics_card(SCORES, LABELS)
    assert "cllr" not in minimal and "per_group_eer" not in minimal
    assert "Threshold sweep" not in M.format_card_markdown(minimal, "x")


def test_eer_interval_brackets_the_eer_and_narrows_with_more_trials():
    rng = np.random.default_rng(3)

    def trials(n):
        y = np.r_[np.ones(n), np.zeros(n)]
        return rng.normal(size=2 * n) + 1.0 * y, y

    small, large = trials(100), trials(2000)
    low_s, high_s = M.eer_interval(*small)
    low_l, high_l = M.eer_interval(*large)
    assert low_s <= M.eer(*small)[0] <= high_s and low_l <= M.eer(*large)[0] <= high_l
    # Width shrinks about as 1/sqrt(n): 20x the trials, ~4.5x narrower.
    assert (high_l - low_l) < (high_s - low_s) / 3
    # The true EER of two unit Gaussians one sigma apart is Phi(-0.5) = 30.85 %.
    assert low_l < 0.3085 < high_l
    assert M.eer_interval(*small) == (low_s, high_s)  # seeded: the card does not change between runs
    card = M.metrics_card(*small)
    assert card["eer_ci95"] == [low_s, high_s]
    assert "EER 95% bootstrap interval" in M.format_card_markdown(card, "t")


# --- what a card keeps for pictures (issue 14: DET/ROC and calibration plot on the Models page) -----
def test_compact_scores_keep_quantiles_extremes_and_digits():
    assert M.compact_scores([0.3, 0.1, 0.2]) == [0.1, 0.2, 0.3]  # under the cap: all, sorted
    s = np.arange(10001, dtype=float)  # 0 .. 10000
    kept = M.compact_scores(s, cap=101)
    assert kept == [100.0 * i for i in range(101)]  # evenly spaced order statistics, both ends kept
    assert M.compact_scores([1.23456789, -0.000123456789]) == [-0.00012346, 1.2346]  # 5 significant digits
    with pytest.raises(ValueError):
        M.compact_scores([1.0, 2.0], cap=1)


def test_score_lists_round_trip_to_the_same_det_and_eer():
    rng = np.random.default_rng(5)
    s = np.r_[rng.normal(1, 1, 3000), rng.normal(-1, 1, 1000)]
    y = np.r_[np.ones(3000), np.zeros(1000)]
    card = M.metrics_card(s, y)
    lists = card["score_lists"]
    assert lists["n_bonafide"] == 3000 and lists["n_spoof"] == 1000 and lists["kept"] == [2000, 1000]
    back = M.lists_of(card)
    assert back is not None and back[0].size == 3000 and int(back[1].sum()) == 2000
    # Quantile thinning moves each rate by at most 1/cap: the EER from the lists is the card's within that.
    assert M.eer(*back)[0] == pytest.approx(card["eer"], abs=1 / 2000 + 1e-4)
    assert M.lists_of({"eer": 0.1}) is None and M.lists_of({"score_lists": {"bonafide": [], "spoof": [1.0]}}) is None


def test_reliability_bins_weigh_each_class_to_the_prior():
    # 2 bona fide at P 0.85 and 0.15; 4 spoof at P 0.15 x3 and 0.85 (LLRs = logit P at prior 0.5).
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    llrs = [logit(0.85), logit(0.15), logit(0.15), logit(0.15), logit(0.15), logit(0.85)]
    rel = M.reliability_bins(llrs, [1, 1, 0, 0, 0, 0])
    low, high = rel["bins"]  # empty bins left out
    # Bin 0.1-0.2: bona weight 1/4, spoof 3 x 1/8 -> observed 0.25 / 0.625 = 0.4 (not the raw 1/4).
    assert (low["lo"], low["hi"], low["n_bonafide"], low["n_spoof"]) == (0.1, 0.2, 1, 3)
    assert low["observed"] == pytest.approx(0.4) and low["mean_prob"] == pytest.approx(0.15)
    assert low["weight"] == pytest.approx(0.625)
    assert high["observed"] == pytest.approx(2 / 3) and high["mean_prob"] == pytest.approx(0.85)
    assert rel["ece"] == pytest.approx(0.625 * 0.25 + 0.375 * (0.85 - 2 / 3))
    # Well-calibrated LLRs (analytic for N(+-1, 1)) give a small ECE.
    rng = np.random.default_rng(1)
    s = np.r_[rng.normal(1, 1, 20000), rng.normal(-1, 1, 5000)]
    assert M.reliability_bins(2 * s, np.r_[np.ones(20000), np.zeros(5000)])["ece"] < 0.02


def test_metrics_card_records_lists_always_and_reliability_with_llrs():
    card = M.metrics_card(SCORES, LABELS, llrs=SCORES * 4 - 2)
    assert card["score_lists"]["bonafide"] == sorted(BONA) and card["score_lists"]["spoof"] == sorted(SPOOF)
    assert sum(b["n_bonafide"] + b["n_spoof"] for b in card["reliability"]["bins"]) == 8
    assert json.loads(json.dumps(card)) == card
    assert "reliability" not in M.metrics_card(SCORES, LABELS) and "score_lists" in M.metrics_card(SCORES, LABELS)
    assert "0.9" not in M.format_card_markdown(card, "x").split("| Metric |")[0]  # lists stay out of the Markdown
