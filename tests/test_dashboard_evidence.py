"""The review page's words and colours for a clip (dashboard.evidence)."""

from __future__ import annotations

import pytest

from dashboard.evidence import VERDICT_COLOURS, flag_reason, revealed

SEGS = [{"start_s": 0.0, "end_s": 4.0, "prob_bonafide": 0.9}, {"start_s": 2.0, "end_s": 6.0, "prob_bonafide": 0.2},
        {"start_s": 4.0, "end_s": 8.0, "prob_bonafide": 0.05}]


def test_the_flag_reason_says_why_in_words():
    assert flag_reason("spoof", True, 0.9, 0.05, SEGS) == (
        "The model judged the whole clip spoofed (P(bona fide) 0.05). 2 of 3 segments look spoofed.")
    assert flag_reason("inconclusive", True, 0.52, 0.48).startswith("The model abstained")
    assert flag_reason("bonafide", True, 0.8, 0.9, SEGS) == (
        "The clip looks bona fide (P(bona fide) 0.90), but 2 segments look spoofed; the worst at 4.0–8.0 s (P 0.05).")
    assert flag_reason("bonafide", True, 0.8, 0.9, SEGS[:2]).endswith("1 segment looks spoofed; the worst at 2.0–6.0 s (P 0.20).")
    assert flag_reason("bonafide", False, 0.55, 0.77) == "Not flagged, but the model is unsure (confidence 0.55)."


def test_verdict_colours_differ_and_blind_review_reveals_after_one_votes():
    assert len(set(VERDICT_COLOURS.values())) == 3
    assert not revealed(True, "alice", ["bob"]) and revealed(True, "alice", ["bob", "alice"])
    assert revealed(False, "alice", [])


def test_operating_lines_come_from_the_registry_rule_in_probability_units():
    from dashboard.evidence import operating_caption, operating_lines
    from siamese.calibration import Calibration, OperatingPoint, decision_rule

    c = Calibration(slope=2.9476668126812515, offset=0.29533744426786246)  # the bundled model's
    rule = decision_rule(c, OperatingPoint(-0.36068689823150635, -0.6999382667029591, -0.021435529760053584, "cost"))
    lines = operating_lines({"dev": {"eer": 0.3}, "operating_point": rule})
    assert lines == {"threshold": pytest.approx(c.prob_bonafide(-0.36068689823150635)),
                     "abstain_low": pytest.approx(c.prob_bonafide(-0.6999382667029591)),
                     "abstain_high": pytest.approx(c.prob_bonafide(-0.021435529760053584))}
    # P 0.15 .. 0.32 .. 0.56: the raw threshold is far from P 0.5, which is why drawing it matters.
    assert 0.1 < lines["abstain_low"] < lines["threshold"] < 0.35 < lines["abstain_high"] < 0.6
    assert operating_lines({"dev": {"eer": 0.3}}) is None  # registered before the rule was kept
    assert operating_lines({"operating_point": {"threshold": 0.1}}) is None  # malformed: nothing drawn
    assert operating_lines(None) is None
    text = operating_caption(lines, "v1")
    assert f"threshold P {lines['threshold']:.3f}" in text and f"{lines['abstain_low']:.3f}–" in text
    assert "not recorded for model v1" in operating_caption(None, "v1")


def test_clip_chart_draws_the_threshold_and_band_on_the_probability_axis():
    import json

    from dashboard.audio import segments_frame, timeline_chart

    segs = segments_frame([{**s, "score": 0.0} for s in SEGS])
    lines = {"threshold": 0.43, "abstain_low": 0.27, "abstain_high": 0.58}
    spec = timeline_chart(None, segs, lines=lines).to_dict()
    layers = spec["layer"]
    data = {name: rows for name, rows in spec["datasets"].items()}
    rules = [lay for lay in layers if lay["mark"]["type"] == "rule"]
    rects = [lay for lay in layers if lay["mark"]["type"] == "rect"]
    threshold = next(r for r in rules if data[r["data"]["name"]] == [{"p": 0.43, "what": "model threshold"}])
    band = next(r for r in rects if data[r["data"]["name"]] == [{"lo": 0.27, "hi": 0.58, "what": "abstain band"}])
    for layer in (threshold, band):  # on the same fixed [0, 1] probability scale as the segment line
        assert layer["encoding"]["y"]["scale"] == {"domain": [0, 1]}
    assert band["encoding"]["y2"]["field"] == "hi"
    line = next(lay for lay in layers if lay["mark"]["type"] == "line")
    assert line["encoding"]["y"]["field"] == "prob_bonafide" and line["encoding"]["y"]["scale"] == {"domain": [0, 1]}
    # Without a rule: only the suspicious-segment reference line, nothing at the threshold.
    plain = json.dumps(timeline_chart(None, segs).to_dict())
    assert "model threshold" not in plain and "abstain band" not in plain
