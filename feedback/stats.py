"""Agreement statistics for the dashboard: per clip, per reviewer, chance-corrected, model vs reviewers.

Chance-corrected statistics come from maintained libraries: Cohen's kappa per
reviewer pair from scikit-learn (`cohen_kappa_score`), Krippendorff's alpha over
all reviewers from `krippendorff` (handles clips each reviewed by a different
subset of reviewers, which is the normal case with task distribution).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Clip, Review, ReviewItem


@dataclass(frozen=True)
class ClipAgreement:
    """How reviewers of one queue item voted."""

    item_id: int
    uri: str
    n_reviewers: int
    votes: dict[str, int]
    unanimous: bool
    final_verdict: str | None
    agrees_with_model: bool | None


@dataclass(frozen=True)
class ReviewerAgreement:
    """How often a reviewer agrees with final verdicts and with the model."""

    reviewer: str
    n_reviews: int
    n_unsure: int
    agree_with_final: float | None
    agree_with_model: float | None


def _latest_reviews(session: Session) -> list[tuple[int, str, str, str, str | None, str | None]]:
    """(item_id, uri, reviewer, verdict, final, model_label) with each reviewer's latest verdict."""
    stmt = (select(Review.item_id, Clip.uri, Review.reviewer, Review.verdict, ReviewItem.final_verdict,
                   ReviewItem.model_label)
            .join(ReviewItem, ReviewItem.id == Review.item_id).join(Clip, Clip.id == ReviewItem.clip_id)
            .order_by(Review.created_at, Review.id))
    latest: dict[tuple[int, str], tuple[int, str, str, str, str | None, str | None]] = {}
    for row in session.execute(stmt):
        latest[(row[0], row[2])] = tuple(row)  # type: ignore[assignment]
    return list(latest.values())


def clip_agreement(session: Session) -> list[ClipAgreement]:
    """Vote breakdown of every reviewed item."""
    by_item: dict[int, list[tuple[int, str, str, str, str | None, str | None]]] = defaultdict(list)
    for row in _latest_reviews(session):
        by_item[row[0]].append(row)
    out = []
    for item_id, rows in sorted(by_item.items()):
        votes: dict[str, int] = defaultdict(int)
        for r in rows:
            votes[r[3]] += 1
        final, label = rows[0][4], rows[0][5]
        out.append(ClipAgreement(
            item_id=item_id, uri=rows[0][1], n_reviewers=len(rows), votes=dict(votes),
            unanimous=len(votes) == 1, final_verdict=final,
            agrees_with_model=None if final is None or label is None else final == label.lower(),
        ))
    return out


def reviewer_agreement(session: Session) -> list[ReviewerAgreement]:
    """Per reviewer: share of definitive verdicts matching the final verdict and the model label."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # n, unsure, fin_n, fin_ok, mod_n, mod_ok
    for _item, _uri, reviewer, verdict, final, label in _latest_reviews(session):
        a = acc[reviewer]
        a[0] += 1
        if verdict == "unsure":
            a[1] += 1
            continue
        if final is not None:
            a[2] += 1
            a[3] += verdict == final
        if label is not None:
            a[4] += 1
            a[5] += verdict == label.lower()
    return [ReviewerAgreement(reviewer=r, n_reviews=a[0], n_unsure=a[1],
                              agree_with_final=a[3] / a[2] if a[2] else None,
                              agree_with_model=a[5] / a[4] if a[4] else None)
            for r, a in sorted(acc.items())]


# --------------------------------------------------------------------------- #
# Chance-corrected agreement (issue 14). Percent agreement with the final verdict
# flatters reviewers when one verdict dominates (most flagged clips are spoofs);
# kappa and alpha subtract the agreement expected by chance.
# --------------------------------------------------------------------------- #
CATEGORIES = ("bonafide", "spoof", "unsure")  # nominal; "unsure" is an answer like the others


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa of two reviewers on the clips both reviewed (None when undefined)."""

    reviewer_a: str
    reviewer_b: str
    n_common: int
    observed: float | None  # share of common clips with the same verdict
    kappa: float | None


@dataclass(frozen=True)
class OverallAgreement:
    """Krippendorff's alpha (nominal) over every clip with at least two reviewers."""

    alpha: float | None
    n_items: int  # clips with >= 2 reviewers (the ones alpha is computed on)
    n_reviewers: int


def _latest_matrix(session: Session) -> tuple[list[str], list[int], dict[tuple[str, int], str]]:
    votes = {(r[2], r[0]): r[3] for r in _latest_reviews(session)}
    reviewers = sorted({r for r, _ in votes})
    items = sorted({i for _, i in votes})
    return reviewers, items, votes


def pair_agreement(session: Session, min_common: int = 2) -> list[PairAgreement]:
    """Cohen's kappa per reviewer pair (`sklearn.metrics.cohen_kappa_score`), each reviewer's latest
    verdict per clip; pairs with fewer than `min_common` clips in common are left out."""
    from sklearn.metrics import cohen_kappa_score

    reviewers, _, votes = _latest_matrix(session)
    by_reviewer: dict[str, dict[int, str]] = defaultdict(dict)
    for (r, i), v in votes.items():
        by_reviewer[r][i] = v
    out = []
    for k, a in enumerate(reviewers):
        for b in reviewers[k + 1:]:
            common = sorted(set(by_reviewer[a]) & set(by_reviewer[b]))
            if len(common) < min_common:
                continue
            ya, yb = [by_reviewer[a][i] for i in common], [by_reviewer[b][i] for i in common]
            with warnings.catch_warnings():  # undefined (one constant verdict) is reported as None below
                warnings.simplefilter("ignore")
                kappa = float(cohen_kappa_score(ya, yb, labels=list(CATEGORIES)))
            out.append(PairAgreement(a, b, len(common), sum(x == y for x, y in zip(ya, yb)) / len(common),
                                     None if kappa != kappa else kappa))  # NaN: both gave one constant verdict
    return out


def overall_agreement(session: Session) -> OverallAgreement:
    """Krippendorff's alpha, nominal, over all reviewers (the `krippendorff` package; missing = not reviewed)."""
    import krippendorff
    import numpy as np

    reviewers, items, votes = _latest_matrix(session)
    counts = defaultdict(int)
    for (_, i) in votes:
        counts[i] += 1
    units = [i for i in items if counts[i] >= 2]
    if not units:
        return OverallAgreement(None, 0, len(reviewers))
    code = {c: n for n, c in enumerate(CATEGORIES)}
    data = np.full((len(reviewers), len(units)), np.nan)
    for r, reviewer in enumerate(reviewers):
        for u, item in enumerate(units):
            if (reviewer, item) in votes:
                data[r, u] = code[votes[(reviewer, item)]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 0/0 when every verdict is the same: reported as None below
            alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal",
                                             value_domain=list(range(len(CATEGORIES)))))
    except ValueError:  # e.g. every verdict identical: expected disagreement is zero
        alpha = float("nan")
    return OverallAgreement(None if alpha != alpha else alpha, len(units), len(reviewers))


def model_confusion(session: Session) -> dict[str, dict[str, int]]:
    """Model label (rows) against the reviewers' final verdict (columns) over decided clips:
    counts[model_label][final_verdict]."""
    stmt = (select(ReviewItem.model_label, ReviewItem.final_verdict)
            .where(ReviewItem.final_verdict.is_not(None)))
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for label, final in session.execute(stmt):
        out[(label or "none").lower()][final] += 1
    return {k: dict(v) for k, v in out.items()}
