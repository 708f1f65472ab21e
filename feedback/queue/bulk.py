"""Bulk confirmation: a lead confirms a job's confident spoofs in one action (previewed, then confirmed).

Why: a job can flag most of its clips (71 % of one 300-clip job); when the
model is very sure a clip is spoofed, reviewing each by ear is mostly
clicking. A lead or admin may confirm them together: each item gets an
ordinary "spoof" verdict from them (same rule, same audit per verdict), plus one
`review.bulk_confirm` audit event with the job, the confidence floor and the count.
Only items shown in the preview are confirmed, and each is re-checked at that
moment (still open, still a spoof above the floor), so nothing changes behind
the lead's back between preview and confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import ITEM_OPEN, Review, ReviewItem, ScoringJob
from feedback.queue.verdicts import LEAD_ROLES, record_verdict
from feedback.reviewers import roles_of
from voxguard.errors import UserError

DEFAULT_MIN_CONFIDENCE = 0.95


@dataclass(frozen=True)
class BulkResult:
    """What `bulk_confirm_spoofs` did."""

    confirmed: int
    skipped: int  # previewed items that no longer qualified (decided meanwhile, already reviewed by the actor)


def _conditions(job_id: str, min_confidence: float, actor: str) -> list:
    reviewed = exists().where(Review.item_id == ReviewItem.id, Review.reviewer == actor)
    return [ReviewItem.scoring_job_id == select(ScoringJob.id).where(ScoringJob.job_id == job_id).scalar_subquery(),
            ReviewItem.status == ITEM_OPEN, ReviewItem.model_label == "spoof",
            ReviewItem.confidence >= min_confidence, ~reviewed]


def confident_spoofs(session: Session, job_id: str, actor: str,
                     min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[int]:
    """Open items of the job the model labelled spoof with at least `min_confidence` (the preview)."""
    return list(session.scalars(select(ReviewItem.id).where(*_conditions(job_id, min_confidence, actor))
                                .order_by(ReviewItem.id)))


def bulk_confirm_spoofs(session: Session, job_id: str, item_ids: Sequence[int], actor: str,
                        min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> BulkResult:
    """Give the previewed items a "spoof" verdict by `actor` (a lead or admin), re-checking each."""
    if roles_of(session, {actor}).get(actor) not in LEAD_ROLES:
        raise UserError("only leads and admins can confirm clips in bulk")
    still = set(session.scalars(select(ReviewItem.id).where(ReviewItem.id.in_(list(item_ids)),
                                                            *_conditions(job_id, min_confidence, actor))))
    note = f"bulk-confirmed: model spoof with confidence >= {min_confidence:g} in job {job_id}"
    for item_id in sorted(still):
        record_verdict(session, item_id, actor, "spoof", note)
    audit(session, actor, "review.bulk_confirm", job_id=job_id, min_confidence=min_confidence,
          confirmed=len(still), skipped=len(item_ids) - len(still))
    return BulkResult(confirmed=len(still), skipped=len(item_ids) - len(still))
