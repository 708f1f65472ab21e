"""Scoring output into the queue: clips, scores and queue items, idempotently, in bulk.

Why its own module: the scoring job is the only writer here, and its rules
(one item per clip and model version, error rows never queued, priorities) are
independent of how reviewers read the queue or decide items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback._sql import insert_for
from feedback.audit import audit
from feedback.models import ITEM_OPEN, Clip, ReviewItem, Score, ScoringJob, utcnow

_CHUNK = 2000  # rows per bulk statement: bounded memory, few round trips


@dataclass(frozen=True)
class EnqueueResult:
    """What `enqueue_scores` did."""

    rows: int
    errors: int
    items_created: int


def priority_of(flagged: bool, confidence: float | None, prob_bonafide: float | None) -> float:
    """Queue priority: flagged items first (+1), then the least confident (closest to threshold)."""
    if confidence is not None:
        uncertainty = 1.0 - min(max(float(confidence), 0.0), 1.0)
    elif prob_bonafide is not None:
        uncertainty = 1.0 - abs(2.0 * float(prob_bonafide) - 1.0)
    else:
        uncertainty = 0.5
    return (1.0 if flagged else 0.0) + uncertainty


def enqueue_scores(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    job_id: str,
    model_version: str,
    *,
    source: str | None = None,
    dest: str | None = None,
    uncertain_below: float | None = None,
    actor: str = "scoring",
) -> EnqueueResult:
    """Store a scoring job's rows (clips, scores) and queue flagged/uncertain clips.

    Idempotent: re-running with the same rows updates scores in place and never
    duplicates clips or queue items (one item per clip and model version).
    Rows with `uncertain_below` > confidence are queued too. Error rows keep a
    score row with the error and are never queued.
    """
    job = session.scalar(select(ScoringJob).where(ScoringJob.job_id == job_id))
    if job is None:
        job = ScoringJob(job_id=job_id, source=source, dest=dest, model_version=model_version)
        session.add(job)
        session.flush()
    n_rows = n_errors = n_created = 0
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _CHUNK:
            n_created += _enqueue_chunk(session, batch, job, model_version, uncertain_below)
            n_rows, n_errors, batch = n_rows + len(batch), n_errors + sum(bool(r.get("error")) for r in batch), []
    if batch:
        n_created += _enqueue_chunk(session, batch, job, model_version, uncertain_below)
        n_rows, n_errors = n_rows + len(batch), n_errors + sum(bool(r.get("error")) for r in batch)
    # Counts come from the DB so a re-run reports the job's true totals.
    job.n_total = session.scalar(select(func.count()).where(Score.scoring_job_id == job.id)) or 0
    job.n_errors = session.scalar(
        select(func.count()).where(Score.scoring_job_id == job.id, Score.error.is_not(None))
    ) or 0
    job.n_flagged = session.scalar(
        select(func.count()).where(Score.scoring_job_id == job.id, Score.flagged.is_(True))
    ) or 0
    audit(session, actor, "queue.enqueue", job_id=job_id, model_version=model_version,
          rows=n_rows, errors=n_errors, items_created=n_created)
    return EnqueueResult(rows=n_rows, errors=n_errors, items_created=n_created)


def finish_job(
    session: Session,
    job_id: str,
    status: str = "done",
    *,
    model_version: str | None = None,
    source: str | None = None,
    dest: str | None = None,
    now: dt.datetime | None = None,
) -> ScoringJob:
    """Close a scoring job's record (created here if the job wrote no rows at all)."""
    job = session.scalar(select(ScoringJob).where(ScoringJob.job_id == job_id))
    if job is None:
        job = ScoringJob(job_id=job_id, source=source, dest=dest, model_version=model_version)
        session.add(job)
    job.status, job.finished_at = status, now or utcnow()
    audit(session, "scoring", "job.finish", job_id=job_id, status=status)
    return job


def _enqueue_chunk(
    session: Session, rows: Sequence[Mapping[str, Any]], job: ScoringJob, model_version: str,
    uncertain_below: float | None,
) -> int:
    now = utcnow()
    clip_values = {}
    for r in rows:
        clip_values[r["uri"]] = {
            "uri": r["uri"], "fingerprint": r.get("fingerprint"), "duration_s": r.get("duration_s"),
            "size_bytes": r.get("size_bytes"), "source": r.get("source"), "created_at": now,
        }
    ins = insert_for(session, Clip.__table__)
    session.execute(ins.on_conflict_do_nothing(index_elements=["uri"]), list(clip_values.values()))
    clip_ids = dict(session.execute(select(Clip.uri, Clip.id).where(Clip.uri.in_(clip_values))).all())

    score_values = []
    for r in rows:
        error = r.get("error") or None
        score_values.append({
            "clip_id": clip_ids[r["uri"]], "scoring_job_id": job.id, "model_version": model_version,
            "score": _num(r.get("score")), "prob_bonafide": _num(r.get("prob_bonafide")),
            "label": r.get("label"), "confidence": _num(r.get("confidence")),
            "flagged": bool(r.get("flagged")) and not error, "segments": list(r.get("segments") or []),
            "error": str(error) if error else None, "created_at": now,
        })
    ins = insert_for(session, Score.__table__)
    stmt = ins.on_conflict_do_update(
        index_elements=["clip_id", "scoring_job_id"],
        set_={c: ins.excluded[c] for c in ("model_version", "score", "prob_bonafide", "label",
                                           "confidence", "flagged", "segments", "error")},
    )
    session.execute(stmt, score_values)
    score_ids = dict(session.execute(
        select(Score.clip_id, Score.id).where(Score.scoring_job_id == job.id,
                                              Score.clip_id.in_(list(clip_ids.values())))
    ).all())

    item_values = []
    for sv in score_values:
        if sv["error"]:
            continue
        uncertain = (uncertain_below is not None and sv["confidence"] is not None
                     and sv["confidence"] < uncertain_below)
        if not (sv["flagged"] or uncertain):
            continue
        item_values.append({
            "clip_id": sv["clip_id"], "model_version": model_version, "score_id": score_ids[sv["clip_id"]],
            "scoring_job_id": job.id, "model_label": sv["label"], "model_score": sv["score"],
            "confidence": sv["confidence"], "flagged": sv["flagged"],
            "priority": priority_of(sv["flagged"], sv["confidence"], sv["prob_bonafide"]),
            "status": ITEM_OPEN, "version": 0, "created_at": now, "updated_at": now,
        })
    if not item_values:
        return 0
    ins = insert_for(session, ReviewItem.__table__)
    result = session.execute(
        ins.on_conflict_do_nothing(index_elements=["clip_id", "model_version"]).returning(ReviewItem.id),
        item_values,
    )
    return len(result.all())


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
