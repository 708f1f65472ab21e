"""Agreement statistics for the dashboard: per clip and per reviewer."""

from __future__ import annotations

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
