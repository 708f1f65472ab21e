"""The review page's words and colours for a clip (dashboard.evidence)."""

from __future__ import annotations

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
