"""Checks of siamese.calibration: fitting, posteriors, operating points."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from siamese import metrics
from siamese.calibration import Calibration, OperatingPoint, choose_operating_point


def _gaussians(n_bona: int, n_spoof: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    # bona ~ N(1, 1), spoof ~ N(-1, 1)  =>  analytic LLR(x) = 2x.
    rng = np.random.default_rng(seed)
    s = np.concatenate([rng.normal(1.0, 1.0, n_bona), rng.normal(-1.0, 1.0, n_spoof)])
    y = np.r_[np.ones(n_bona), np.zeros(n_spoof)]
    return s, y


def test_llr_and_posterior():
    c = Calibration(slope=2.0, offset=-1.0)
    assert c.llr(1.5) == pytest.approx(2.0)
    assert isinstance(c.llr(1.5), float)
    np.testing.assert_allclose(c.llr(np.array([0.0, 1.0])), [-1.0, 1.0])
    # LLR 0 with an even prior -> 0.5; prior 0.9 shifts the log-odds by logit(0.9).
    assert c.prob_bonafide(0.5) == pytest.approx(0.5)
    assert c.prob_bonafide(0.5, prior_bonafide=0.9) == pytest.approx(0.9)
    assert c.prob_bonafide(1.5) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert Calibration.identity().llr(3.25) == 3.25
    with pytest.raises(ValueError):
        c.prob_bonafide(0.0, prior_bonafide=1.0)


def test_calibration_dict_roundtrip():
    c = Calibration(slope=0.3, offset=-4.5)
    assert Calibration.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError):
        Calibration(slope=float("inf"), offset=0.0)


def test_fit_recovers_analytic_llr():
    s, y = _gaussians(20000, 20000)
    c = Calibration.fit(s, y)
    assert c.slope == pytest.approx(2.0, abs=0.06)
    assert c.offset == pytest.approx(0.0, abs=0.06)
    # Affine re-scaling of the raw scores is undone by the calibration.
    c2 = Calibration.fit(3.0 * s + 5.0, y)
    np.testing.assert_allclose(c2.llr(3.0 * s + 5.0), c.llr(s), atol=1e-5)


def test_fit_is_class_balanced():
    # 10:1 imbalance must not leak into the LLR (it is a likelihood ratio, not a posterior).
    s, y = _gaussians(20000, 2000, seed=3)
    c = Calibration.fit(s, y)
    assert c.slope == pytest.approx(2.0, abs=0.12)
    assert c.offset == pytest.approx(0.0, abs=0.12)


def test_fit_improves_cllr():
    s, y = _gaussians(3000, 3000, seed=5)
    raw = 0.1 * s + 3.0  # badly scaled, badly shifted scores used as LLRs
    c = Calibration.fit(raw, y)
    assert metrics.cllr(c.llr(raw), y) < metrics.cllr(raw, y)
    assert metrics.cllr(c.llr(raw), y) < 0.7


def test_separable_data_gives_finite_slope():
    s = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    c = Calibration.fit(s, y)
    assert math.isfinite(c.slope) and math.isfinite(c.offset)
    assert 0 < c.slope < 50.0 / s.std() + 1e-9
    # Still the right direction and a confident separation.
    assert np.all(c.llr(s[y == 1]) > 2) and np.all(c.llr(s[y == 0]) < -2)
    # Reversed scores give a negative slope, not a failure.
    assert Calibration.fit(-s, y).slope < 0


def test_fit_constant_scores_is_uninformative():
    c = Calibration.fit([0.3, 0.3, 0.3], [1, 0, 1])
    assert c.slope == 0.0 and c.offset == 0.0


def test_fit_requires_both_classes():
    with pytest.raises(ValueError, match="no spoof"):
        Calibration.fit([0.1, 0.2], [1, 1])


def test_operating_point_decisions():
    op = OperatingPoint(threshold=0.5, abstain_low=0.4, abstain_high=0.6, method="cost")
    assert op.decide(0.9) == "bonafide"
    assert op.decide(0.6) == "bonafide"  # band is half-open
    assert op.decide(0.5) == "inconclusive"
    assert op.decide(0.4) == "inconclusive"
    assert op.decide(0.39) == "spoof"
    np.testing.assert_array_equal(
        op.decide_many([0.9, 0.6, 0.5, 0.45, 0.4, 0.39]),
        ["bonafide", "bonafide", "inconclusive", "inconclusive", "inconclusive", "spoof"],
    )
    no_band = OperatingPoint(0.5, 0.5, 0.5, "eer")
    assert no_band.decide(0.5) == "bonafide" and no_band.decide(0.49) == "spoof"
    assert OperatingPoint.from_dict(json.loads(json.dumps(op.to_dict()))) == op
    with pytest.raises(ValueError):
        OperatingPoint(threshold=0.7, abstain_low=0.4, abstain_high=0.6, method="cost")
    with pytest.raises(ValueError):
        op.decide(float("nan"))


def test_choose_operating_point_cost_and_eer():
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    cal = Calibration(slope=4.0, offset=-2.0)
    op = choose_operating_point(scores, labels, cal, method="cost")
    # minDCF threshold of this example (see test_metrics) is 0.3; band = ±1 nat / 4 = ±0.25.
    assert op.method == "cost"
    assert op.threshold == pytest.approx(0.3)
    assert op.abstain_low == pytest.approx(0.05)
    assert op.abstain_high == pytest.approx(0.55)
    op_eer = choose_operating_point(scores, labels, cal, method="eer", abstain_llr_margin=0.4)
    assert op_eer.threshold == pytest.approx(0.6)
    assert (op_eer.abstain_low, op_eer.abstain_high) == pytest.approx((0.5, 0.7))
    assert list(op_eer.decide_many([0.45, 0.55, 0.65, 0.75])) == ["spoof", "inconclusive", "inconclusive", "bonafide"]
    # A negative slope gives the same band width.
    op_neg = choose_operating_point(scores, labels, Calibration(-4.0, 2.0), method="eer", abstain_llr_margin=0.4)
    assert (op_neg.abstain_low, op_neg.abstain_high) == pytest.approx((0.5, 0.7))


def test_choose_operating_point_empty_band():
    scores = [0.9, 0.8, 0.2, 0.1]
    labels = [1, 1, 0, 0]
    op = choose_operating_point(scores, labels, Calibration(2.0, 0.0), method="eer", abstain_llr_margin=0.0)
    assert op.abstain_low == op.abstain_high == op.threshold
    flat = choose_operating_point(scores, labels, Calibration(0.0, 0.0), method="eer")
    assert flat.abstain_low == flat.abstain_high == flat.threshold
    assert set(flat.decide_many(scores)) == {"bonafide", "spoof"}
    with pytest.raises(ValueError):
        choose_operating_point(scores, labels, Calibration(2.0, 0.0), method="median")
    with pytest.raises(ValueError):
        choose_operating_point(scores, labels, Calibration(2.0, 0.0), abstain_llr_margin=-1)


def test_probability_lines_use_the_scoring_calibration():
    from siamese.calibration import decision_rule, probability_lines

    c = Calibration(slope=2.9, offset=0.3)
    point = OperatingPoint(-0.36, -0.70, -0.02, "cost")
    rule = decision_rule(c, point)
    assert json.loads(json.dumps(rule)) == rule  # stored as JSON in the registry
    lines = probability_lines(rule)
    # Exactly the probabilities scoring reports for those raw scores (prior 0.5).
    assert lines["threshold"] == pytest.approx(c.prob_bonafide(-0.36))
    assert lines["abstain_low"] == pytest.approx(c.prob_bonafide(-0.70))
    assert lines["abstain_high"] == pytest.approx(c.prob_bonafide(-0.02))
    assert lines["abstain_low"] < lines["threshold"] < lines["abstain_high"]
    # A decreasing calibration swaps the band's ends.
    flipped = probability_lines(decision_rule(Calibration(slope=-1.0, offset=0.0), point))
    assert flipped["abstain_low"] == pytest.approx(1 / (1 + math.exp(-0.02)))
    assert flipped["abstain_low"] <= flipped["abstain_high"]


def test_choose_operating_point_for_a_false_rejection_target():
    rng = np.random.default_rng(3)
    bona = rng.normal(1.0, 1.0, 200)
    spoof = rng.normal(-1.0, 1.0, 300)
    scores, labels = np.r_[bona, spoof], np.r_[np.ones(200), np.zeros(300)]
    cal = Calibration(slope=2.0, offset=0.0)
    for target in (0.0, 0.01, 0.05, 0.10, 0.25):
        op = choose_operating_point(scores, labels, cal, method="frr", target_frr=target)
        assert op.method == "frr"
        rejected = np.mean(bona < op.threshold)
        assert rejected <= target  # the promise
        assert rejected > target - 1 / len(bona) - 1e-12  # and no stricter than it has to be
    # A looser target never raises the threshold; the cost point sits elsewhere on the same scores.
    thresholds = [choose_operating_point(scores, labels, cal, method="frr", target_frr=t).threshold
                  for t in (0.0, 0.05, 0.2)]
    assert thresholds == sorted(thresholds)
    assert choose_operating_point(scores, labels, cal, method="frr", target_frr=0.0).threshold == bona.min()


def test_false_rejection_target_is_validated():
    scores, labels = [0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="target_frr"):
            choose_operating_point(scores, labels, Calibration(2.0, 0.0), method="frr", target_frr=bad)
    with pytest.raises(ValueError, match="no bona fide"):
        choose_operating_point([0.2, 0.1], [0, 0], Calibration(2.0, 0.0), method="frr")
