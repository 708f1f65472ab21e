"""Recording verdicts and the final-verdict rule.

Final-verdict rule (`decide_final`), applied after every review:
  1. Each reviewer counts once, with their latest review; "unsure" never decides.
  2. A lead or admin reviewer's definitive verdict wins (the latest one if several).
  3. Otherwise the verdict given by the most reviewers is final when at least
     `required_agreement` reviewers gave it and strictly more than gave the other
     verdict (stored in the policy row, default 1: a single verdict decides; set 2
     to require two agreeing reviewers). A tie leaves the item open for a lead.

Concurrency: every review is its own row (nothing to lose there); the item's state
(final verdict, status) is recomputed from all reviews and written with a
compare-and-set on `version`, retried on conflict, so a concurrent reviewer's
verdict is always included in the final state (READ COMMITTED re-reads each try).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import ITEM_DECIDED, ITEM_OPEN, VERDICTS, RetrainPolicy, Review, ReviewItem, utcnow
from feedback.reviewers import is_disabled, roles_of
from voxguard.errors import Forbidden, InputError, NotFound

DEFINITIVE = ("bonafide", "spoof")
LEAD_ROLES = ("lead", "admin")
UNDO_WINDOW = dt.timedelta(minutes=10)  # how long a reviewer can take a verdict back


class ConcurrentUpdateError(RuntimeError):
    """The compare-and-set kept failing (pathological contention)."""


@dataclass(frozen=True)
class VerdictResult:
    """Outcome of `record_verdict`; `stale` means the item changed since the caller saw it."""

    review_id: int
    item_id: int
    final_verdict: str | None
    status: str
    version: int
    stale: bool


def decide_final(
    reviews: Sequence[tuple[str, str]], roles: Mapping[str, str], required_agreement: int = 1
) -> str | None:
    """Apply the final-verdict rule (module docstring) to (reviewer, verdict) pairs in time order."""
    latest: dict[str, str] = {}
    for reviewer, verdict in reviews:  # later reviews of the same reviewer replace earlier ones
        latest.pop(reviewer, None)
        latest[reviewer] = verdict
    lead_verdicts = [v for r, v in latest.items() if roles.get(r) in LEAD_ROLES and v in DEFINITIVE]
    if lead_verdicts:
        return lead_verdicts[-1]
    counts = {v: sum(1 for x in latest.values() if x == v) for v in DEFINITIVE}
    best, other = sorted(DEFINITIVE, key=lambda v: counts[v], reverse=True)
    if counts[best] >= max(required_agreement, 1) and counts[best] > counts[other]:
        return best
    return None


def required_agreement(session: Session) -> int:
    """The stored review rule (reviewers that must agree without a lead)."""
    policy = session.get(RetrainPolicy, 1)
    return policy.required_agreement if policy else 1


def record_verdict(
    session: Session,
    item_id: int,
    reviewer: str,
    verdict: str,
    note: str | None = None,
    expected_version: int | None = None,
    *,
    now: dt.datetime | None = None,
    max_retries: int = 20,
) -> VerdictResult:
    """Record one reviewer's verdict and update the item's final verdict without losing updates.

    The review row is always kept. `expected_version` is the item version the
    reviewer saw; when it is older, the verdict still counts and `stale=True`
    tells the UI that someone else acted meanwhile. A disabled account raises `Forbidden`, an unknown
    verdict `InputError`, a missing item `NotFound` (one line each in the CLI).
    """
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    if is_disabled(session, reviewer):
        raise Forbidden(f"reviewer {reviewer!r} is disabled (`voxguard review reviewers enable {reviewer}`)")
    now = now or utcnow()
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    review = Review(item_id=item_id, clip_id=item.clip_id, reviewer=reviewer, verdict=verdict,
                    note=note, created_at=now)
    session.add(review)
    session.flush()
    final, status, version, stale = _settle(session, item_id, now, expected_version, max_retries)
    session.expire(item)
    audit(session, reviewer, "review.verdict", now=now, item_id=item_id, clip_id=item.clip_id,
          verdict=verdict, note=note, final_verdict=final, version=version)
    return VerdictResult(review_id=review.id, item_id=item_id, final_verdict=final,
                         status=status, version=version, stale=stale)


def undo_verdict(
    session: Session, item_id: int, reviewer: str, *, now: dt.datetime | None = None,
    window: dt.timedelta = UNDO_WINDOW, max_retries: int = 20,
) -> VerdictResult | None:
    """Take back `reviewer`'s latest verdict on the item if given within `window`; None if there is none.

    Why: a reviewer working at two actions per clip will mis-click; without undo the
    wrong verdict decides the item and feeds retraining. The review row is removed, the
    item's state recomputed from the remaining reviews (same compare-and-set as a verdict),
    and the audit trail keeps what was taken back.
    """
    now = now or utcnow()
    review = session.scalars(select(Review).where(Review.item_id == item_id, Review.reviewer == reviewer)
                             .order_by(Review.created_at.desc(), Review.id.desc()).limit(1)).first()
    if review is None or review.created_at < now - window:
        return None
    taken = {"verdict": review.verdict, "note": review.note, "given_at": review.created_at, "review_id": review.id}
    session.delete(review)
    session.flush()
    final, status, version, _ = _settle(session, item_id, now, None, max_retries)
    audit(session, reviewer, "review.undo", now=now, item_id=item_id, clip_id=review.clip_id,
          final_verdict=final, version=version, **taken)
    return VerdictResult(review_id=review.id, item_id=item_id, final_verdict=final, status=status,
                         version=version, stale=False)


def _settle(
    session: Session, item_id: int, now: dt.datetime, expected_version: int | None, max_retries: int,
) -> tuple[str | None, str, int, bool]:
    """Recompute the item's final verdict from all its reviews and write it with a compare-and-set on
    `version`, retried on conflict. Returns (final, status, new version, stale)."""
    needed = required_agreement(session)
    stale = False
    for _ in range(max_retries):
        # Fresh reads each try (Core selects bypass the identity map).
        seen_version, old_final = session.execute(
            select(ReviewItem.version, ReviewItem.final_verdict).where(ReviewItem.id == item_id)
        ).one()
        stale = stale or (expected_version is not None and expected_version != seen_version)
        pairs = [(r, v) for r, v in session.execute(
            select(Review.reviewer, Review.verdict).where(Review.item_id == item_id)
            .order_by(Review.created_at, Review.id))]
        final = decide_final(pairs, roles_of(session, {r for r, _ in pairs}), needed)
        values: dict[str, Any] = {
            "version": seen_version + 1, "final_verdict": final, "updated_at": now,
            "status": ITEM_DECIDED if final else ITEM_OPEN,
        }
        if final != old_final:
            values["decided_at"] = now if final else None
        result = session.execute(
            update(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.version == seen_version)
            .values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            return final, values["status"], seen_version + 1, stale
    raise ConcurrentUpdateError(f"item {item_id}: version kept changing")


def final_verdict(session: Session, item_id: int) -> str | None:
    """The item's final verdict (None while undecided)."""
    return session.scalar(select(ReviewItem.final_verdict).where(ReviewItem.id == item_id))
