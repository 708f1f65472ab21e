"""What the review page says about a clip in words and colours (no Streamlit here: unit-testable).

Why: a reviewer working 500 clips a day needs the reason a clip is in the
queue at a glance (spoof, inconclusive, or one bad segment), verdict buttons
that do not look alike, and a blind mode that shows nothing of the model's
output until they have voted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.audio import SUSPICIOUS_PROB
from siamese.calibration import probability_lines

# Distinct, colour-blind-safe verdict colours (Okabe-Ito): bona fide blue-green, spoof vermilion, unsure grey.
VERDICT_COLOURS = {"bonafide": "#009E73", "spoof": "#D55E00", "unsure": "#7f7f7f"}
# Streamlit's badge colours closest to the above, for markdown badges.
VERDICT_BADGES = {"bonafide": "green", "spoof": "red", "unsure": "gray", "inconclusive": "orange"}


def flag_reason(label: str | None, flagged: bool, confidence: float | None, prob_bonafide: float | None,
                segments: Sequence[dict[str, Any]] = ()) -> str:
    """Why the clip is in the queue, in one sentence."""
    bad = [s for s in segments if s.get("prob_bonafide") is not None and s["prob_bonafide"] < SUSPICIOUS_PROB]
    p = "" if prob_bonafide is None else f" (P(bona fide) {prob_bonafide:.2f})"
    if label == "spoof":
        reason = f"The model judged the whole clip spoofed{p}."
    elif label == "inconclusive":
        reason = f"The model abstained: the clip's score lies inside the abstain band{p}."
    elif flagged and bad:
        worst = min(bad, key=lambda s: s["prob_bonafide"])
        reason = (f"The clip looks bona fide{p}, but {len(bad)} segment{'s' if len(bad) > 1 else ''} look"
                  f"{'' if len(bad) > 1 else 's'} spoofed; the worst at {worst['start_s']:.1f}–{worst['end_s']:.1f} s "
                  f"(P {worst['prob_bonafide']:.2f}).")
    elif flagged:
        reason = f"Flagged by the model{p}."
    else:
        reason = f"Not flagged, but the model is unsure (confidence {confidence:.2f})." if confidence is not None \
            else "Queued for review."
    if bad and label in ("spoof", "inconclusive"):
        reason += f" {len(bad)} of {len(segments)} segments look spoofed."
    return reason


def revealed(blind: bool, reviewer: str, reviewers_of_item: Sequence[str]) -> bool:
    """Whether the model's output and others' verdicts may be shown: always, unless blind review
    is on and this reviewer has not voted on the item yet."""
    return not blind or reviewer in set(reviewers_of_item)


def operating_lines(metrics: dict[str, Any] | None) -> dict[str, float] | None:
    """The model's threshold and abstain band in P(bona fide), from its registry metrics.

    The operating point lives in raw score units; the calibration recorded with
    it maps it to the probabilities the clip chart plots. None when the model
    version has no recorded decision rule (registered before it was kept).
    """
    rule = (metrics or {}).get("operating_point")
    if not isinstance(rule, dict):
        return None
    try:
        return probability_lines(rule)
    except (KeyError, TypeError, ValueError):  # a malformed record: draw nothing rather than fail the page
        return None


def operating_caption(lines: dict[str, float] | None, version: str | None) -> str:
    """One line under the clip chart saying what the drawn lines are (or why they are missing)."""
    if lines is None:
        return (f"The model's threshold and abstain band are not recorded for model {version or '—'} "
                "(not in the registry, or registered before they were kept).")
    band = ("no abstain band" if lines["abstain_high"] - lines["abstain_low"] < 1e-9 else
            f"abstain band P {lines['abstain_low']:.3f}–{lines['abstain_high']:.3f} (shaded: a clip inside it is "
            "inconclusive, a segment below it sends the clip to review)")
    return (f"Model's operating point on the P(bona fide) axis: threshold P {lines['threshold']:.3f} (yellow line: "
            f"the clip's P decides its label), {band}; the cyan dashes mark P {SUSPICIOUS_PROB:.1f}, below which "
            "a segment is listed with ⚠.")
