"""What retraining reads from the queue: mismatches (final verdict vs model) and decided clips.

A *mismatch* is a decided item whose final verdict differs from the model's label;
"unsure" never counts. The retraining trigger counts them, the retraining job
reads `verified_feedback` as its feedback set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.models import ITEM_DECIDED, Clip, ReviewItem
from feedback.queue.verdicts import DEFINITIVE

@dataclass(frozen=True)
class Mismatch:
    """A decided item whose final verdict disagrees with the model."""

    item_id: int
    uri: str
    model_version: str
    model_label: str | None
    final_verdict: str
    decided_at: dt.datetime


def _mismatch_conditions(since: dt.datetime | None, until: dt.datetime | None) -> list[Any]:
    conds = [
        ReviewItem.status == ITEM_DECIDED,
        ReviewItem.final_verdict.in_(DEFINITIVE),
        ReviewItem.model_label.is_not(None),
        func.lower(ReviewItem.model_label) != ReviewItem.final_verdict,
    ]
    if since is not None:
        conds.append(ReviewItem.decided_at > since)
    if until is not None:
        conds.append(ReviewItem.decided_at <= until)
    return conds


def mismatches(
    session: Session, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[Mismatch]:
    """Decided items whose final verdict disagrees with the model label ("unsure" never counts)."""
    stmt = (select(ReviewItem, Clip.uri).join(Clip, Clip.id == ReviewItem.clip_id)
            .where(*_mismatch_conditions(since, until)).order_by(ReviewItem.decided_at))
    return [Mismatch(item_id=it.id, uri=uri, model_version=it.model_version, model_label=it.model_label,
                     final_verdict=it.final_verdict or "", decided_at=it.decided_at or it.updated_at)
            for it, uri in session.execute(stmt)]


def count_mismatches(session: Session, since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    """Number of mismatches decided in (since, until]."""
    return session.scalar(
        select(func.count()).select_from(ReviewItem).where(*_mismatch_conditions(since, until))
    ) or 0


def count_decided(session: Session, since: dt.datetime | None = None) -> int:
    """Number of items given a definitive final verdict after `since`."""
    conds = [ReviewItem.status == ITEM_DECIDED, ReviewItem.final_verdict.in_(DEFINITIVE)]
    if since is not None:
        conds.append(ReviewItem.decided_at > since)
    return session.scalar(select(func.count()).select_from(ReviewItem).where(*conds)) or 0


def verified_feedback(session: Session, since: dt.datetime | None = None) -> list[tuple[str, str, dt.datetime]]:
    """(uri, final verdict, decided_at) of every decided clip: the retraining job's feedback set."""
    conds = [ReviewItem.status == ITEM_DECIDED, ReviewItem.final_verdict.in_(DEFINITIVE)]
    if since is not None:
        conds.append(ReviewItem.decided_at > since)
    stmt = (select(Clip.uri, ReviewItem.final_verdict, ReviewItem.decided_at)
            .join(Clip, Clip.id == ReviewItem.clip_id).where(*conds)
            .order_by(ReviewItem.decided_at, ReviewItem.id))  # id: a stable order among equal timestamps
    return [(u, v, d) for u, v, d in session.execute(stmt)]
