"""Score calibration (raw score -> LLR) and operating points (score -> decision).

`Calibration` is an affine map from raw detector scores ("higher = more bona
fide") to natural-log likelihood ratios log p(x|bona fide) / p(x|spoof),
fitted by prior-weighted logistic regression as in BOSARIS / the ASVspoof
linear calibration. `OperatingPoint` turns raw scores into one of
"bonafide" / "spoof" / "inconclusive".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from siamese import metrics

# A slope bound in standardised-score units: 50 LLR nats per standard deviation
# of the scores is already absurdly confident; separable data stop there.
MAX_STD_SLOPE = 50.0
# Small ridge on the standardised slope: keeps the optimum finite and unique.
L2_SLOPE = 1e-4
# Below this |slope| the calibration carries no information for a band.
_FLAT_SLOPE = 1e-12

Decision = Literal["bonafide", "spoof", "inconclusive"]
# How a threshold is chosen on dev scores (see `choose_operating_point`).
OperatingMethod = Literal["cost", "eer", "frr"]
OPERATING_METHODS: tuple[str, ...] = ("cost", "eer", "frr")


def expit(x: Any) -> np.ndarray:
    """Logistic sigmoid, overflow-free (numpy only: scipy stays out of the scoring driver)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _shape_out(x: np.ndarray, like: Any) -> Any:
    """Plain float for scalar input, ndarray otherwise."""
    return float(x) if np.ndim(like) == 0 else x


@dataclass(frozen=True)
class Calibration:
    """Affine score -> LLR map: llr = slope * score + offset (natural log)."""

    slope: float
    offset: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slope) and math.isfinite(self.offset)):
            raise ValueError(f"calibration must be finite, got slope={self.slope}, offset={self.offset}")

    @classmethod
    def identity(cls) -> Calibration:
        """Scores already are LLRs."""
        return cls(slope=1.0, offset=0.0)

    def llr(self, scores: Any) -> Any:
        """Log-likelihood ratio (nats) of each score; float in, float out."""
        s = np.asarray(scores, dtype=np.float64)
        return _shape_out(self.slope * s + self.offset, scores)

    def prob_bonafide(self, scores: Any, prior_bonafide: float = 0.5) -> Any:
        """Posterior P(bona fide | score) for the given prior, via Bayes on the LLR."""
        if not 0.0 < prior_bonafide < 1.0:
            raise ValueError(f"prior_bonafide must be in (0, 1), got {prior_bonafide}")
        s = np.asarray(scores, dtype=np.float64)
        post = expit(self.slope * s + self.offset + _logit(prior_bonafide))
        return _shape_out(post, scores)

    def to_dict(self) -> dict[str, float]:
        return {"slope": float(self.slope), "offset": float(self.offset)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(slope=float(d["slope"]), offset=float(d["offset"]))

    @classmethod
    def fit(cls, scores: Any, labels: Any, prior_bonafide: float = 0.5) -> Calibration:
        """Prior-weighted logistic regression of labels on scores.

        Minimises  P * mean_bona log(1 + e^-(a s + b + logit P))
                 + (1-P) * mean_spoof log(1 + e^(a s + b + logit P))
        with P = prior_bonafide, so each class weighs by the prior regardless of
        its count and a s + b comes out as an LLR. Scores are standardised
        first; the standardised slope has a tiny ridge and is bounded by
        MAX_STD_SLOPE so perfectly separable data give a large but finite slope.
        """
        s, y = metrics._as_scores_labels(scores, labels)
        if not 0.0 < prior_bonafide < 1.0:
            raise ValueError(f"prior_bonafide must be in (0, 1), got {prior_bonafide}")
        mu = float(s.mean())
        sd = float(s.std())
        if sd == 0.0 or not math.isfinite(sd):
            # Constant scores carry no evidence: the optimum is LLR = 0 everywhere.
            return cls(slope=0.0, offset=0.0)
        z = (s - mu) / sd
        bona = y == 1
        # Per-trial weights: each class sums to its prior.
        w = np.where(bona, prior_bonafide / bona.sum(), (1.0 - prior_bonafide) / (~bona).sum())
        sign = np.where(bona, 1.0, -1.0)  # loss is log(1 + exp(-sign * logit))
        lp = _logit(prior_bonafide)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a, b = theta
            m = sign * (a * z + b + lp)
            loss = float(np.sum(w * np.logaddexp(0.0, -m))) + 0.5 * L2_SLOPE * a * a
            # d/dm log(1+e^-m) = -sigmoid(-m)
            g = -w * sign * expit(-m)
            grad = np.array([float(np.sum(g * z)) + L2_SLOPE * a, float(np.sum(g))])
            return loss, grad

        from scipy.optimize import minimize  # fitting only: applying a calibration needs numpy alone

        res = minimize(
            objective,
            x0=np.array([0.0, 0.0]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-MAX_STD_SLOPE, MAX_STD_SLOPE), (None, None)],
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
        )
        a_std, b_std = (float(v) for v in res.x)
        slope = a_std / sd
        offset = b_std - a_std * mu / sd
        return cls(slope=slope, offset=offset)


@dataclass(frozen=True)
class OperatingPoint:
    """Decision rule in raw score units.

    score in [abstain_low, abstain_high)  -> "inconclusive"
    otherwise score >= threshold          -> "bonafide", else "spoof".
    An empty band has abstain_low == abstain_high.
    """

    threshold: float
    abstain_low: float
    abstain_high: float
    method: str

    def __post_init__(self) -> None:
        if not (self.abstain_low <= self.threshold <= self.abstain_high):
            raise ValueError(
                f"need abstain_low <= threshold <= abstain_high, got "
                f"{self.abstain_low}, {self.threshold}, {self.abstain_high}"
            )

    def decide(self, score: float) -> Decision:
        """Decision for one raw score."""
        x = float(score)
        if not math.isfinite(x):
            raise ValueError(f"cannot decide on a non-finite score: {score!r}")
        if self.abstain_low <= x < self.abstain_high:
            return "inconclusive"
        return "bonafide" if x >= self.threshold else "spoof"

    def decide_many(self, scores: Any) -> np.ndarray:
        """Vectorised `decide`: array of "bonafide" / "spoof" / "inconclusive"."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(s)):
            raise ValueError("cannot decide on non-finite scores")
        out = np.where(s >= self.threshold, "bonafide", "spoof").astype("<U12")
        out[(s >= self.abstain_low) & (s < self.abstain_high)] = "inconclusive"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": float(self.threshold),
            "abstain_low": float(self.abstain_low),
            "abstain_high": float(self.abstain_high),
            "method": str(self.method),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperatingPoint:
        return cls(
            threshold=float(d["threshold"]),
            abstain_low=float(d["abstain_low"]),
            abstain_high=float(d["abstain_high"]),
            method=str(d["method"]),
        )


def frr_threshold(scores: Any, labels: Any, target_frr: float) -> float:
    """The highest threshold at which at most `target_frr` of the bona fide scores fall below it.

    Decisions are `score >= threshold => bona fide`, so the threshold is the k-th smallest bona fide
    score with k = floor(target_frr * n_bona): exactly k bona fide scores lie strictly below it (ties
    aside, which only lower the count).
    """
    if not 0.0 <= target_frr < 1.0 or not math.isfinite(target_frr):
        raise ValueError(f"target_frr must be in [0, 1), got {target_frr}")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    bona = np.sort(s[np.asarray(labels).reshape(-1).astype(bool)])
    if bona.size == 0:
        raise ValueError("no bona fide scores to set a false-rejection target on")
    return float(bona[int(math.floor(target_frr * bona.size))])


def choose_operating_point(
    scores: Any,
    labels: Any,
    calibration: Calibration,
    method: str = "cost",
    p_spoof: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
    abstain_llr_margin: float = 1.0,
    target_frr: float = 0.05,
) -> OperatingPoint:
    """Pick a threshold on (dev) scores and an abstain band around it.

    method "cost": the threshold of min_dcf with these costs; "eer": the EER
    threshold; "frr": the highest threshold that rejects at most `target_frr`
    of the bona fide scores (a promise about real recordings, which is what an
    archive owner is asked to sign off: "at most 1 real call in 20 is labelled
    spoof"; the spoofs it lets through are whatever the scores give). The band
    holds the scores whose calibrated LLR lies within ±abstain_llr_margin of the LLR at the threshold, i.e. threshold ±
    margin/|slope| in score units. Margin 0 or a flat calibration (slope ~ 0:
    no LLR difference between scores) gives an empty band.
    """
    if abstain_llr_margin < 0 or not math.isfinite(abstain_llr_margin):
        raise ValueError(f"abstain_llr_margin must be finite and >= 0, got {abstain_llr_margin}")
    if method == "cost":
        _, threshold = metrics.min_dcf(scores, labels, p_spoof, c_miss, c_fa)
    elif method == "eer":
        _, threshold = metrics.eer(scores, labels)
    elif method == "frr":
        threshold = frr_threshold(scores, labels, target_frr)
    else:
        raise ValueError(f"method must be one of {OPERATING_METHODS}, got {method!r}")
    if abstain_llr_margin == 0 or abs(calibration.slope) <= _FLAT_SLOPE:
        return OperatingPoint(threshold, threshold, threshold, method)
    half_width = abstain_llr_margin / abs(calibration.slope)
    return OperatingPoint(threshold, threshold - half_width, threshold + half_width, method)


def decision_rule(calibration: Calibration, point: OperatingPoint) -> dict[str, Any]:
    """The operating point with the calibration it is read through, as plain JSON.

    Why: the model registry keeps this beside the metrics cards, so the review
    page can draw the model's threshold and abstain band without loading the
    package (weights and torch) for every clip.
    """
    return {**point.to_dict(), "calibration": calibration.to_dict()}


def probability_lines(rule: dict[str, Any], prior_bonafide: float = 0.5) -> dict[str, float]:
    """The rule's threshold and abstain band in P(bona fide) units, as scoring reports probabilities.

    Raw scores are mapped through the same calibration (and prior) the detector
    uses for `prob_bonafide`, so lines drawn at these values sit exactly where
    the plotted probabilities change decision. With a negative slope the band's
    ends swap, so `abstain_low <= abstain_high` always holds in the result.
    """
    calibration = Calibration.from_dict(rule["calibration"])
    point = OperatingPoint.from_dict(rule)
    low, threshold, high = calibration.prob_bonafide(
        np.array([point.abstain_low, point.threshold, point.abstain_high]), prior_bonafide)
    return {"threshold": float(threshold), "abstain_low": float(min(low, high)),
            "abstain_high": float(max(low, high))}
