"""Retraining policy: stored knobs and the decision "should we retrain now?".

Triggers, in order of precedence:
  * manual: a pending request (`request_retrain`), honoured even when disabled;
  * mismatches: at least `min_mismatches` verified mismatches decided since the
    last successful run started;
  * age: `max_age_days` have passed since the last successful run finished (or,
    with no run yet, since the oldest new verdict) and there is new feedback.
A failed run blocks automatic triggers for `RETRY_AFTER_S`, so a broken job is
not relaunched on every tick; a manual request is launched at the next check
regardless (`RETRY_RULE` says so to users).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import (
    ITEM_DECIDED,
    RUN_FAILED,
    RUN_REQUESTED,
    RUN_SUCCEEDED,
    RetrainPolicy,
    RetrainRun,
    ReviewItem,
    utcnow,
)
from feedback.queue import DEFINITIVE, count_decided, count_mismatches
from voxguard.errors import DatabaseError, InputError


RETRY_AFTER_S = 3600.0
RETRY_RULE = (f"after a failed run, automatic triggers wait {RETRY_AFTER_S / 3600:g} h before retrying; "
              "a manual request (`voxguard policy request`) is launched at the next check regardless")


@dataclass(frozen=True)
class Decision:
    """Outcome of `should_retrain`; `trigger` is None when no retraining is due."""

    trigger: str | None
    reason: str
    counts: dict[str, Any] = field(default_factory=dict)
    request_id: int | None = None


def get_policy(session: Session) -> RetrainPolicy:
    """The stored policy row (created by the initial migration)."""
    policy = session.get(RetrainPolicy, 1)
    if policy is None:
        raise DatabaseError("retrain_policy row missing: run `voxguard db upgrade`")
    return policy


def update_policy(
    session: Session,
    *,
    min_mismatches: int | None = None,
    max_age_days: float | None = None,
    enabled: bool | None = None,
    required_agreement: int | None = None,
    actor: str = "admin",
) -> RetrainPolicy:
    """Change some knobs; the others keep their values."""
    policy = get_policy(session)
    changes = {k: v for k, v in dict(min_mismatches=min_mismatches, max_age_days=max_age_days,
                                      enabled=enabled, required_agreement=required_agreement).items()
               if v is not None}
    if changes.get("min_mismatches", 1) < 1 or changes.get("required_agreement", 1) < 1:
        raise InputError("min_mismatches and required_agreement must be >= 1")
    if changes.get("max_age_days", 1.0) <= 0:
        raise InputError("max_age_days must be > 0")
    for key, value in changes.items():
        setattr(policy, key, value)
    policy.updated_at, policy.updated_by = utcnow(), actor
    audit(session, actor, "policy.update", **changes)
    return policy


def request_retrain(session: Session, requested_by: str, reason: str | None = None) -> RetrainRun:
    """Ask for a retraining at the next scheduler tick (an open request is reused)."""
    existing = session.scalar(select(RetrainRun).where(RetrainRun.status == RUN_REQUESTED)
                              .order_by(RetrainRun.id).limit(1))
    if existing is not None:
        return existing
    run = RetrainRun(trigger="manual", status=RUN_REQUESTED, reason=reason or "manual request",
                     requested_by=requested_by, created_at=utcnow())
    session.add(run)
    session.flush()
    audit(session, requested_by, "retrain.request", run_id=run.id, reason=reason)
    return run


def should_retrain(session: Session, now: dt.datetime | None = None, retry_after_s: float = RETRY_AFTER_S) -> Decision:
    """Apply the policy at time `now` (see module docstring)."""
    now = now or utcnow()
    request = session.scalar(select(RetrainRun).where(RetrainRun.status == RUN_REQUESTED)
                             .order_by(RetrainRun.id).limit(1))
    if request is not None:
        return Decision("manual", f"requested by {request.requested_by}", {}, request.id)
    policy = get_policy(session)
    last_ok = session.scalar(select(RetrainRun).where(RetrainRun.status == RUN_SUCCEEDED)
                             .order_by(RetrainRun.finished_at.desc()).limit(1))
    since = last_ok.started_at if last_ok else None
    n_mismatch = count_mismatches(session, since=since)
    n_new = count_decided(session, since=since)
    counts: dict[str, Any] = {"new_mismatches": n_mismatch, "new_feedback": n_new,
                              "since": since.isoformat() if since else None,
                              "min_mismatches": policy.min_mismatches, "max_age_days": policy.max_age_days}
    if not policy.enabled:
        return Decision(None, "automatic retraining disabled", counts)
    last_failed = session.scalar(select(func.max(RetrainRun.finished_at)).where(RetrainRun.status == RUN_FAILED))
    if last_failed is not None and (since is None or last_failed > since) \
            and (now - last_failed).total_seconds() < retry_after_s:
        wait = retry_after_s - (now - last_failed).total_seconds()
        return Decision(None, f"last run failed at {last_failed:%Y-%m-%d %H:%M} UTC; automatic triggers wait "
                              f"{wait / 60:.0f} more min (a manual request runs at the next check)", counts)
    if n_mismatch >= policy.min_mismatches:
        return Decision("mismatches", f"{n_mismatch} new mismatches >= {policy.min_mismatches}", counts)
    if n_new:
        if last_ok is not None:
            reference = last_ok.finished_at or last_ok.started_at
        else:
            reference = session.scalar(select(func.min(ReviewItem.decided_at)).where(
                ReviewItem.status == ITEM_DECIDED, ReviewItem.final_verdict.in_(DEFINITIVE)))
        if reference is not None and now - reference >= dt.timedelta(days=policy.max_age_days):
            age = (now - reference).total_seconds() / 86400
            counts["age_days"] = round(age, 3)
            return Decision("age", f"{age:.1f} days with {n_new} new verdicts >= {policy.max_age_days} days", counts)
    return Decision(None, f"{n_mismatch}/{policy.min_mismatches} mismatches, {n_new} new verdicts", counts)
