"""Evaluation metrics for spoof detection: EER, DET/ROC, AUC, DCF, Cllr, sweeps.

Conventions used everywhere in this module:

* scores are "higher = more bona fide";
* labels are 1 = bona fide (the positive class), 0 = spoof;
* a decision at threshold ``t`` is ``score >= t  =>  bona fide``;
* a *miss* is a bona fide trial rejected (FRR), a *false alarm* is a spoof
  trial accepted (FAR), as in the ASVspoof 5 evaluation plan.

Everything is plain numpy; results are plain Python floats so they can go
straight into JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_SWEEP_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# A card keeps at most this many scores per class (quantiles beyond it): curves drawn from them are
# indistinguishable from the full lists, and a card stays a few tens of kB of JSON.
SCORE_LIST_CAP = 2000
SCORE_LIST_DIGITS = 5  # significant digits kept per score (scale-free: cosine and Mahalanobis scores alike)
RELIABILITY_BINS = 10


# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #
def _as_scores_labels(scores: Any, labels: Any, *, what: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (float64 scores, int64 labels in {0,1}); both classes required."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y_raw = np.asarray(labels).reshape(-1)
    if s.shape != y_raw.shape:
        raise ValueError(f"{what} and labels differ in length: {s.size} vs {y_raw.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{what} contain NaN or infinite values")
    if y_raw.dtype == bool:
        y = y_raw.astype(np.int64)
    else:
        y_f = y_raw.astype(np.float64)
        if not np.all((y_f == 0) | (y_f == 1)):
            raise ValueError("labels must be 1 (bona fide) or 0 (spoof)")
        y = y_f.astype(np.int64)
    n_bona = int(y.sum())
    n_spoof = int(y.size - n_bona)
    if n_bona == 0:
        raise ValueError(f"no bona fide trials (label 1) among {y.size} {what}: the metric needs both classes")
    if n_spoof == 0:
        raise ValueError(f"no spoof trials (label 0) among {y.size} {what}: the metric needs both classes")
    return s, y


def _check_costs(p_spoof: float, c_miss: float, c_fa: float) -> None:
    if not 0.0 < p_spoof < 1.0:
        raise ValueError(f"p_spoof must be in (0, 1), got {p_spoof}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"costs must be positive, got c_miss={c_miss}, c_fa={c_fa}")


# --------------------------------------------------------------------------- #
# DET / ROC
# --------------------------------------------------------------------------- #
def _error_counts(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Miss and false-alarm *counts* at every distinct threshold.

    Thresholds are the distinct scores (ascending) plus one just above the
    maximum (reject everything). Using distinct scores (not one point per
    trial, as the ASVspoof reference does) means tied scores never produce an
    operating point that no threshold can actually reach.
    """
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    uniq, first_idx = np.unique(s_sorted, return_index=True)
    cum_bona = np.concatenate(([0], np.cumsum(y_sorted)))
    cum_spoof = np.concatenate(([0], np.cumsum(1 - y_sorted)))
    n_bona = int(cum_bona[-1])
    n_spoof = int(cum_spoof[-1])
    # At threshold uniq[j] the rejected trials are exactly the first first_idx[j] sorted ones.
    k = np.append(first_idx, s_sorted.size)
    misses = cum_bona[k]
    false_alarms = n_spoof - cum_spoof[k]
    thresholds = np.append(uniq, np.nextafter(uniq[-1], np.inf))
    return misses, false_alarms, thresholds, n_bona, n_spoof


def det_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET curve: (frr, far, thresholds), thresholds ascending.

    ``frr[i]`` is the fraction of bona fide trials with score < thresholds[i],
    ``far[i]`` the fraction of spoof trials with score >= thresholds[i]. The
    first point accepts everything (frr=0, far=1), the last rejects everything.
    """
    s, y = _as_scores_labels(scores, labels)
    misses, fas, thr, n_bona, n_spoof = _error_counts(s, y)
    return misses / n_bona, fas / n_spoof, thr


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve with bona fide as the positive class: (fpr, tpr, thresholds).

    fpr (= FAR) is increasing and thresholds decreasing, as plots expect.
    """
    frr, far, thr = det_curve(scores, labels)
    return far[::-1].copy(), (1.0 - frr)[::-1].copy(), thr[::-1].copy()


# --------------------------------------------------------------------------- #
# Threshold-free summaries
# --------------------------------------------------------------------------- #
def eer(scores: Any, labels: Any) -> tuple[float, float]:
    """Equal error rate and its threshold (score >= threshold => bona fide).

    Walks the DET operating points by increasing threshold; FRR - FAR is
    non-decreasing, so we find the first point where FRR >= FAR. If it is an
    exact crossing, that point is the answer; otherwise the EER is where the
    straight segment between it and the previous point crosses FRR = FAR
    (a point reachable by randomising between the two thresholds), and the
    threshold is interpolated the same way. With an exact crossing this equals
    the ASVspoof reference (mean of FRR and FAR at argmin |FRR - FAR|).
    """
    s, y = _as_scores_labels(scores, labels)
    misses, fas, thr, n_bona, n_spoof = _error_counts(s, y)
    # Sign of FRR - FAR in exact integer arithmetic (no float ties at the crossing).
    diff = misses * n_spoof - fas * n_bona
    idx = int(np.argmax(diff >= 0))  # diff[-1] = n_spoof*n_bona > 0, diff[0] < 0: idx >= 1 exists
    frr = misses / n_bona
    far = fas / n_spoof
    if diff[idx] == 0:
        return float(frr[idx]), float(thr[idx])
    a = idx - 1
    d_a = frr[a] - far[a]
    d_b = frr[idx] - far[idx]
    alpha = -d_a / (d_b - d_a)
    value = frr[a] + alpha * (frr[idx] - frr[a])
    threshold = thr[a] + alpha * (thr[idx] - thr[a])
    return float(value), float(threshold)


def eer_interval(
    scores: Any, labels: Any, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the EER, resampling bona fide and spoof trials separately.

    How far the EER of a few hundred trials can move by chance: the width to keep in mind
    before calling one design better than another.
    """
    s, y = _as_scores_labels(scores, labels)
    bona, spoof = s[y == 1], s[y == 0]
    rng = np.random.default_rng(seed)
    both = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    values = np.empty(n_boot)
    for i in range(n_boot):
        resampled = np.concatenate([rng.choice(bona, bona.size), rng.choice(spoof, spoof.size)])
        values[i] = eer(resampled, both)[0]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC: P(bona score > spoof score), ties counting 0.5 (Mann-Whitney U)."""
    from scipy.stats import rankdata

    s, y = _as_scores_labels(scores, labels)
    n_bona = int(y.sum())
    n_spoof = int(y.size - n_bona)
    ranks = rankdata(s, method="average")  # average ranks give ties exactly 0.5
    u = float(ranks[y == 1].sum()) - n_bona * (n_bona + 1) / 2.0
    return float(u / (n_bona * n_spoof))


# --------------------------------------------------------------------------- #
# Detection cost
# --------------------------------------------------------------------------- #
def _dcf_weights(p_spoof: float, c_miss: float, c_fa: float) -> tuple[float, float, float]:
    _check_costs(p_spoof, c_miss, c_fa)
    w_miss = c_miss * (1.0 - p_spoof)
    w_fa = c_fa * p_spoof
    return w_miss, w_fa, min(w_miss, w_fa)


def min_dcf(
    scores: Any,
    labels: Any,
    p_spoof: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
) -> tuple[float, float]:
    """Normalised minimum DCF (ASVspoof 5) and the threshold attaining it.

    DCF(t) = C_miss (1 - P_spoof) P_miss(t) + C_fa P_spoof P_fa(t), divided by
    min(C_miss (1 - P_spoof), C_fa P_spoof) so that the better trivial system
    (accept all / reject all) scores 1. Ties among thresholds go to the lowest.
    """
    s, y = _as_scores_labels(scores, labels)
    w_miss, w_fa, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    misses, fas, thr, n_bona, n_spoof = _error_counts(s, y)
    dcf = (w_miss * misses / n_bona + w_fa * fas / n_spoof) / norm
    i = int(np.argmin(dcf))
    return float(dcf[i]), float(thr[i])


def bayes_threshold(p_spoof: float = 0.05, c_miss: float = 1.0, c_fa: float = 10.0) -> float:
    """LLR threshold of the Bayes decision: log(C_fa P_spoof / (C_miss (1 - P_spoof)))."""
    _check_costs(p_spoof, c_miss, c_fa)
    return float(math.log(c_fa * p_spoof / (c_miss * (1.0 - p_spoof))))


def act_dcf(
    llrs: Any,
    labels: Any,
    p_spoof: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
) -> float:
    """Normalised actual DCF: decide bona fide when LLR >= the Bayes threshold."""
    s, y = _as_scores_labels(llrs, labels, what="llrs")
    w_miss, w_fa, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    accept = s >= bayes_threshold(p_spoof, c_miss, c_fa)
    p_miss = float(np.mean(~accept[y == 1]))
    p_fa = float(np.mean(accept[y == 0]))
    return float((w_miss * p_miss + w_fa * p_fa) / norm)


def cllr(llrs: Any, labels: Any) -> float:
    """Log-likelihood-ratio cost in bits (natural-log LLRs in; 1.0 = uninformative)."""
    s, y = _as_scores_labels(llrs, labels, what="llrs")
    # log(1 + exp(-x)) computed stably with logaddexp.
    bona_cost = float(np.mean(np.logaddexp(0.0, -s[y == 1])))
    spoof_cost = float(np.mean(np.logaddexp(0.0, s[y == 0])))
    return float((bona_cost + spoof_cost) / (2.0 * math.log(2.0)))


# --------------------------------------------------------------------------- #
# Fixed-threshold metrics
# --------------------------------------------------------------------------- #
def _confusion(s: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts with spoof as the 'detected' class: tp = spoof rejected, etc."""
    accept = s >= threshold
    bona = y == 1
    return {
        "bona_accepted": int(np.sum(accept & bona)),
        "bona_rejected": int(np.sum(~accept & bona)),
        "spoof_accepted": int(np.sum(accept & ~bona)),
        "spoof_rejected": int(np.sum(~accept & ~bona)),
    }


def accuracy_at(scores: Any, labels: Any, threshold: float) -> float:
    """Plain accuracy of ``score >= threshold => bona fide``."""
    s, y = _as_scores_labels(scores, labels)
    c = _confusion(s, y, threshold)
    return float((c["bona_accepted"] + c["spoof_rejected"]) / y.size)


def balanced_accuracy_at(scores: Any, labels: Any, threshold: float) -> float:
    """Mean of the per-class accuracies (1 - (FRR + FAR) / 2) at ``threshold``."""
    s, y = _as_scores_labels(scores, labels)
    c = _confusion(s, y, threshold)
    n_bona = c["bona_accepted"] + c["bona_rejected"]
    n_spoof = c["spoof_accepted"] + c["spoof_rejected"]
    return float(0.5 * (c["bona_accepted"] / n_bona + c["spoof_rejected"] / n_spoof))


def threshold_sweep(
    probs: Any,
    labels: Any,
    thresholds: Sequence[float] = DEFAULT_SWEEP_THRESHOLDS,
) -> list[dict[str, float]]:
    """Report table over probability thresholds (prob_bonafide >= t => bona fide).

    Each row: threshold, accuracy, balanced_accuracy, far (spoof accepted),
    frr (bona fide rejected), precision_spoof, recall_spoof, f1_spoof.
    Precision (and F1) are 0.0 when nothing is flagged as spoof, so the table
    stays NaN-free and JSON-able.
    """
    s, y = _as_scores_labels(probs, labels, what="probs")
    rows: list[dict[str, float]] = []
    for t in thresholds:
        c = _confusion(s, y, float(t))
        n_bona = c["bona_accepted"] + c["bona_rejected"]
        n_spoof = c["spoof_accepted"] + c["spoof_rejected"]
        flagged = c["spoof_rejected"] + c["bona_rejected"]
        precision = c["spoof_rejected"] / flagged if flagged else 0.0
        recall = c["spoof_rejected"] / n_spoof
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        far = c["spoof_accepted"] / n_spoof
        frr = c["bona_rejected"] / n_bona
        rows.append(
            {
                "threshold": float(t),
                "accuracy": float((c["bona_accepted"] + c["spoof_rejected"]) / y.size),
                "balanced_accuracy": float(1.0 - 0.5 * (far + frr)),
                "far": float(far),
                "frr": float(frr),
                "precision_spoof": float(precision),
                "recall_spoof": float(recall),
                "f1_spoof": float(f1),
            }
        )
    return rows


# --------------------------------------------------------------------------- #
# Per generator
# --------------------------------------------------------------------------- #
def per_group_eer(scores: Any, labels: Any, groups: Any) -> dict[str, float]:
    """EER of each spoof group (e.g. generator) against *all* bona fide trials.

    ``groups`` gives one name per trial; the names of bona fide trials are
    ignored. Groups are keyed by ``str(name)`` in sorted order.
    """
    s, y = _as_scores_labels(scores, labels)
    g = np.asarray(groups, dtype=object).reshape(-1)
    if g.shape != s.shape:
        raise ValueError(f"groups and scores differ in length: {g.size} vs {s.size}")
    bona_scores = s[y == 1]
    spoof_mask = y == 0
    spoof_groups = np.array([str(x) for x in g[spoof_mask]], dtype=object)
    spoof_scores = s[spoof_mask]
    out: dict[str, float] = {}
    for name in sorted(set(spoof_groups.tolist())):
        grp = spoof_scores[spoof_groups == name]
        sc = np.concatenate((bona_scores, grp))
        lb = np.concatenate((np.ones(bona_scores.size, np.int64), np.zeros(grp.size, np.int64)))
        out[name] = eer(sc, lb)[0]
    return out


# --------------------------------------------------------------------------- #
# What a card keeps for pictures: score lists and reliability bins
# --------------------------------------------------------------------------- #
def compact_scores(scores: Any, cap: int = SCORE_LIST_CAP, digits: int = SCORE_LIST_DIGITS) -> list[float]:
    """Sorted scores, at most `cap` of them, each rounded to `digits` significant digits.

    Beyond `cap`, evenly spaced order statistics (both extremes included) are
    kept: the empirical distribution, and so every DET/ROC point, moves by at
    most 1/cap, while a card stays small enough for a database row.
    """
    if cap < 2:
        raise ValueError(f"cap must be at least 2, got {cap}")
    s = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    if s.size > cap:
        s = s[np.round(np.linspace(0, s.size - 1, cap)).astype(np.int64)]
    return [float(f"{v:.{digits}g}") for v in s]


def score_lists(scores: Any, labels: Any, cap: int = SCORE_LIST_CAP) -> dict[str, Any]:
    """Per-class compact score lists of one evaluation: what DET/ROC are drawn from later.

    `n_bonafide` / `n_spoof` are the full counts, `kept` says how many of each were stored.
    """
    s, y = _as_scores_labels(scores, labels)
    bona, spoof = compact_scores(s[y == 1], cap), compact_scores(s[y == 0], cap)
    return {"bonafide": bona, "spoof": spoof, "n_bonafide": int(y.sum()), "n_spoof": int(y.size - y.sum()),
            "kept": [len(bona), len(spoof)], "digits": SCORE_LIST_DIGITS}


def lists_of(card: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, labels) from a card's `score_lists`, or None for a card made before they were recorded."""
    lists = card.get("score_lists")
    if not isinstance(lists, dict) or not lists.get("bonafide") or not lists.get("spoof"):
        return None
    bona = np.asarray(lists["bonafide"], dtype=np.float64)
    spoof = np.asarray(lists["spoof"], dtype=np.float64)
    return np.concatenate([bona, spoof]), np.concatenate([np.ones(bona.size, np.int64), np.zeros(spoof.size, np.int64)])


def reliability_bins(llrs: Any, labels: Any, n_bins: int = RELIABILITY_BINS,
                     prior_bonafide: float = 0.5) -> dict[str, Any]:
    """Reliability table of P(bona fide) = sigmoid(llr + logit prior), in equal-width probability bins.

    Why prior-weighted: the probabilities are posteriors for `prior_bonafide`
    (0.5 is what scoring reports), while an evaluation set has its own class
    mix. Each trial is weighted so that each class sums to its prior; a bin's
    `observed` is then the weighted share of bona fide trials in it, and a
    calibrated model has observed ≈ `mean_prob` whatever the set's class mix.
    `weight` is the bin's share of that weighted mass; `ece` the weighted mean
    |observed - mean_prob| (expected calibration error). Empty bins are left out.
    """
    s, y = _as_scores_labels(llrs, labels, what="llrs")
    if not 0.0 < prior_bonafide < 1.0:
        raise ValueError(f"prior_bonafide must be in (0, 1), got {prior_bonafide}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    logit_prior = math.log(prior_bonafide / (1.0 - prior_bonafide))
    probs = 1.0 / (1.0 + np.exp(-np.clip(s + logit_prior, -700.0, 700.0)))
    bona = y == 1
    w = np.where(bona, prior_bonafide / bona.sum(), (1.0 - prior_bonafide) / (~bona).sum())
    index = np.minimum((probs * n_bins).astype(np.int64), n_bins - 1)
    bins: list[dict[str, float]] = []
    ece = 0.0
    for b in range(n_bins):
        inside = index == b
        if not inside.any():
            continue
        mass = float(w[inside].sum())
        mean_prob = float(np.sum(w[inside] * probs[inside]) / mass)
        observed = float(w[inside & bona].sum() / mass)
        ece += mass * abs(observed - mean_prob)
        bins.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "n_bonafide": int(np.sum(inside & bona)),
                     "n_spoof": int(np.sum(inside & ~bona)), "mean_prob": mean_prob, "observed": observed,
                     "weight": mass})
    return {"prior_bonafide": float(prior_bonafide), "bins": bins, "ece": float(ece)}


# --------------------------------------------------------------------------- #
# Report card
# --------------------------------------------------------------------------- #
def metrics_card(
    scores: Any,
    labels: Any,
    llrs: Any = None,
    groups: Any = None,
    threshold: float | None = None,
    probs: Any = None,
    p_spoof: float = 0.05,
    c_miss: float = 1,
    c_fa: float = 10,
) -> dict[str, Any]:
    """All the metrics of one evaluation as a JSON-able dict of plain Python values.

    Always: n_bonafide, n_spoof, eer, eer_ci95 (bootstrap), eer_threshold, min_dcf,
    min_dcf_threshold, roc_auc, the cost parameters and score_lists (compact
    per-class scores, for DET/ROC pictures). With ``llrs``: act_dcf, cllr and
    reliability (calibration plot bins). With ``threshold``: threshold,
    accuracy, balanced_accuracy. With ``groups``: per_group_eer. With
    ``probs``: threshold_sweep.
    """
    s, y = _as_scores_labels(scores, labels)
    e, e_thr = eer(s, y)
    m, m_thr = min_dcf(s, y, p_spoof, c_miss, c_fa)
    e_low, e_high = eer_interval(s, y)
    card: dict[str, Any] = {
        "n_bonafide": int(y.sum()),
        "n_spoof": int(y.size - y.sum()),
        "eer": e,
        "eer_ci95": [e_low, e_high],
        "eer_threshold": e_thr,
        "min_dcf": m,
        "min_dcf_threshold": m_thr,
        "roc_auc": roc_auc(s, y),
        "p_spoof": float(p_spoof),
        "c_miss": float(c_miss),
        "c_fa": float(c_fa),
        "score_lists": score_lists(s, y),
    }
    if llrs is not None:
        card["act_dcf"] = act_dcf(llrs, y, p_spoof, c_miss, c_fa)
        card["cllr"] = cllr(llrs, y)
        card["reliability"] = reliability_bins(llrs, y)
    if threshold is not None:
        card["threshold"] = float(threshold)
        card["accuracy"] = accuracy_at(s, y, threshold)
        card["balanced_accuracy"] = balanced_accuracy_at(s, y, threshold)
    if groups is not None:
        card["per_group_eer"] = per_group_eer(s, y, groups)
    if probs is not None:
        card["threshold_sweep"] = threshold_sweep(probs, y)
    return card


_SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("n_bonafide", "Bona fide trials"),
    ("n_spoof", "Spoof trials"),
    ("eer", "EER"),
    ("eer_ci95", "EER 95% bootstrap interval"),
    ("eer_threshold", "EER threshold"),
    ("min_dcf", "minDCF (normalised)"),
    ("min_dcf_threshold", "minDCF threshold"),
    ("act_dcf", "actDCF (normalised)"),
    ("cllr", "Cllr (bits)"),
    ("roc_auc", "ROC AUC"),
    ("threshold", "Decision threshold"),
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("p_spoof", "P(spoof)"),
    ("c_miss", "C_miss"),
    ("c_fa", "C_fa"),
)

_PERCENT_KEYS = {"eer", "accuracy", "balanced_accuracy"}


def _fmt(key: str, value: Any) -> str:
    if key == "eer_ci95":
        return f"{100.0 * value[0]:.1f}% – {100.0 * value[1]:.1f}%"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    v = float(value)
    if key in _PERCENT_KEYS:
        return f"{100.0 * v:.2f}%"
    return f"{v:.4f}"


def format_card_markdown(card: dict[str, Any], title: str) -> str:
    """Readable Markdown of a metrics card: summary, per-group EER and sweep tables."""
    lines = [f"## {title}", "", "| Metric | Value |", "|---|---|"]
    for key, label in _SUMMARY_KEYS:
        if key in card:
            lines.append(f"| {label} | {_fmt(key, card[key])} |")
    groups = card.get("per_group_eer")
    if groups:
        lines += ["", "### EER per spoof group (vs all bona fide)", "", "| Group | EER |", "|---|---|"]
        for name, value in groups.items():
            safe = str(name).replace("|", "\\|")  # keep the table intact
            lines.append(f"| {safe} | {100.0 * float(value):.2f}% |")
    sweep = card.get("threshold_sweep")
    if sweep:
        lines += [
            "",
            "### Threshold sweep (prob_bonafide >= t => bona fide)",
            "",
            "| t | Accuracy | Balanced acc. | FAR | FRR | Spoof precision | Spoof recall | Spoof F1 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in sweep:
            lines.append(
                f"| {r['threshold']:.2f} | {r['accuracy']:.4f} | {r['balanced_accuracy']:.4f} "
                f"| {r['far']:.4f} | {r['frr']:.4f} | {r['precision_spoof']:.4f} "
                f"| {r['recall_spoof']:.4f} | {r['f1_spoof']:.4f} |"
            )
    return "\n".join(lines) + "\n"
