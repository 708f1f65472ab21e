"""The review queue: scoring output in, reviewer verdicts in, final verdicts and mismatches out.

Final-verdict rule (`decide_final`), applied after every review:
  1. Each reviewer counts once, with their latest review; "unsure" never decides.
  2. A lead or admin reviewer's definitive verdict wins (the latest one if several).
  3. Otherwise the verdict given by the most reviewers is final when at least
     `required_agreement` reviewers gave it and strictly more than gave the other
     verdict (stored in the policy row, default 1: a single verdict decides; set 2
     to require two agreeing reviewers). A tie leaves the item open for a lead.
A *mismatch* is a decided item whose final verdict differs from the model's label.

Concurrency: every review is its own row (nothing to lose there); the item's state
(final verdict, status) is recomputed from all reviews and written with a
compare-and-set on `version`, retried on conflict, so a concurrent reviewer's
verdict is always included in the final state (READ COMMITTED re-reads each try).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, tuple_, update
from sqlalchemy.orm import Session

from feedback._sql import insert_for
from feedback.audit import audit
from feedback.models import (
    ITEM_DECIDED,
    ITEM_OPEN,
    VERDICTS,
    Clip,
    RetrainPolicy,
    Review,
    ReviewItem,
    Score,
    ScoringJob,
    utcnow,
)
from feedback.reviewers import is_disabled, roles_of

DEFINITIVE = ("bonafide", "spoof")
LEAD_ROLES = ("lead", "admin")
_CHUNK = 2000  # rows per bulk statement: bounded memory, few round trips


class ConcurrentUpdateError(RuntimeError):
    """The compare-and-set kept failing (pathological contention)."""


@dataclass(frozen=True)
class EnqueueResult:
    """What `enqueue_scores` did."""

    rows: int
    errors: int
    items_created: int


@dataclass(frozen=True)
class QueueFilter:
    """Queue listing filters; None means "any"."""

    status: str | None = ITEM_OPEN
    job_id: str | None = None
    model_version: str | None = None
    flagged: bool | None = None
    model_label: str | None = None
    source: str | None = None  # Clip.source (added for the dashboard's filters)


@dataclass(frozen=True)
class QueueRow:
    """One queue entry as shown to reviewers."""

    item_id: int
    clip_id: int
    uri: str
    model_version: str
    model_label: str | None
    model_score: float | None
    confidence: float | None
    flagged: bool
    priority: float
    status: str
    final_verdict: str | None
    version: int
    n_reviews: int
    created_at: dt.datetime


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue; pass `next_cursor` back for fast keyset paging."""

    rows: list[QueueRow]
    page: int
    page_size: int
    total: int | None
    next_cursor: str | None


@dataclass(frozen=True)
class VerdictResult:
    """Outcome of `record_verdict`; `stale` means the item changed since the caller saw it."""

    review_id: int
    item_id: int
    final_verdict: str | None
    status: str
    version: int
    stale: bool


@dataclass(frozen=True)
class Mismatch:
    """A decided item whose final verdict disagrees with the model."""

    item_id: int
    uri: str
    model_version: str
    model_label: str | None
    final_verdict: str
    decided_at: dt.datetime


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


def list_queue(
    session: Session,
    filters: QueueFilter | None = None,
    sort: str = "priority",
    page: int = 1,
    page_size: int = 50,
    cursor: str | None = None,
    with_total: bool = True,
) -> QueuePage:
    """A page of queue items, highest priority (flagged, then least confident) first.

    `sort`: "priority" (default), "newest" or "oldest". Pass the returned
    `next_cursor` for keyset paging (constant time at any depth, served by the
    (status, priority, id) index); without a cursor `page` uses OFFSET.
    """
    f = filters or QueueFilter()
    conds = []
    if f.status:
        conds.append(ReviewItem.status == f.status)
    if f.model_version:
        conds.append(ReviewItem.model_version == f.model_version)
    if f.flagged is not None:
        conds.append(ReviewItem.flagged.is_(f.flagged))
    if f.model_label:
        conds.append(ReviewItem.model_label == f.model_label)
    if f.source:
        conds.append(ReviewItem.clip_id.in_(select(Clip.id).where(Clip.source == f.source)))
    if f.job_id:
        conds.append(exists().where(
            Score.clip_id == ReviewItem.clip_id, Score.scoring_job_id == ScoringJob.id,
            ScoringJob.job_id == f.job_id,
        ))
    if sort == "priority":
        order = (ReviewItem.priority.desc(), ReviewItem.id.desc())
    elif sort == "newest":
        order = (ReviewItem.id.desc(),)
    elif sort == "oldest":
        order = (ReviewItem.id.asc(),)
    else:
        raise ValueError(f"unknown sort {sort!r} (priority, newest, oldest)")

    n_reviews = (select(func.count()).where(Review.item_id == ReviewItem.id)
                 .correlate(ReviewItem).scalar_subquery())
    stmt = (select(ReviewItem, Clip.uri, n_reviews).join(Clip, Clip.id == ReviewItem.clip_id)
            .where(*conds).order_by(*order).limit(page_size))
    if cursor:
        key = _decode_cursor(cursor)
        if sort == "priority":
            stmt = stmt.where(tuple_(ReviewItem.priority, ReviewItem.id) < tuple_(key[0], int(key[1])))
        elif sort == "newest":
            stmt = stmt.where(ReviewItem.id < int(key[1]))
        else:
            stmt = stmt.where(ReviewItem.id > int(key[1]))
    else:
        stmt = stmt.offset(max(page - 1, 0) * page_size)
    rows = [
        QueueRow(item_id=it.id, clip_id=it.clip_id, uri=uri, model_version=it.model_version,
                 model_label=it.model_label, model_score=it.model_score, confidence=it.confidence,
                 flagged=it.flagged, priority=it.priority, status=it.status,
                 final_verdict=it.final_verdict, version=it.version, n_reviews=n or 0,
                 created_at=it.created_at)
        for it, uri, n in session.execute(stmt).all()
    ]
    total = None
    if with_total:
        total = session.scalar(select(func.count()).select_from(ReviewItem).where(*conds))
    next_cursor = _encode_cursor(rows[-1].priority, rows[-1].item_id) if len(rows) == page_size else None
    return QueuePage(rows=rows, page=page, page_size=page_size, total=total, next_cursor=next_cursor)


def _encode_cursor(priority: float, item_id: int) -> str:
    return base64.urlsafe_b64encode(f"{priority!r}|{item_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        p, i = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return float(p), int(i)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid queue cursor") from exc


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
    tells the UI that someone else acted meanwhile. A disabled account raises PermissionError.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    if is_disabled(session, reviewer):
        raise PermissionError(f"reviewer {reviewer!r} is disabled")
    now = now or utcnow()
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise LookupError(f"no review item {item_id}")
    review = Review(item_id=item_id, clip_id=item.clip_id, reviewer=reviewer, verdict=verdict,
                    note=note, created_at=now)
    session.add(review)
    session.flush()
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
            break
    else:
        raise ConcurrentUpdateError(f"item {item_id}: version kept changing")
    session.expire(item)
    audit(session, reviewer, "review.verdict", now=now, item_id=item_id, clip_id=item.clip_id,
          verdict=verdict, note=note, final_verdict=final, version=seen_version + 1)
    return VerdictResult(review_id=review.id, item_id=item_id, final_verdict=final,
                         status=values["status"], version=seen_version + 1, stale=stale)


def item_for_clip(session: Session, uri: str, model_version: str | None = None) -> ReviewItem | None:
    """The queue item of a clip (for `model_version`, else the most recent one)."""
    stmt = select(ReviewItem).join(Clip, Clip.id == ReviewItem.clip_id).where(Clip.uri == uri)
    if model_version:
        stmt = stmt.where(ReviewItem.model_version == model_version)
    return session.scalar(stmt.order_by(ReviewItem.id.desc()).limit(1))


def final_verdict(session: Session, item_id: int) -> str | None:
    """The item's final verdict (None while undecided)."""
    return session.scalar(select(ReviewItem.final_verdict).where(ReviewItem.id == item_id))


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


# --------------------------------------------------------------------------- #
# Read-only queries used by the review dashboard (dashboard/, issue 6).
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class QueueFacets:
    """The values the queue can be filtered by (for the dashboard's filter menus)."""

    job_ids: list[str]
    model_versions: list[str]
    labels: list[str]
    sources: list[str]


def queue_facets(session: Session) -> QueueFacets:
    """Distinct jobs, model versions, model labels and clip sources present in the queue."""
    def distinct(col: Any, *where: Any) -> list[str]:
        return [v for v in session.scalars(select(col).where(*where).distinct().order_by(col)) if v is not None]

    return QueueFacets(
        job_ids=distinct(ScoringJob.job_id),
        model_versions=distinct(ReviewItem.model_version),
        labels=distinct(ReviewItem.model_label),
        sources=distinct(Clip.source, Clip.id.in_(select(ReviewItem.clip_id))),
    )


def queue_counts(session: Session) -> dict[str, int]:
    """Number of queue items per status (open, decided): the queue's progress."""
    rows = session.execute(select(ReviewItem.status, func.count()).group_by(ReviewItem.status))
    return {status: n for status, n in rows}


def item_reviews(session: Session, item_id: int) -> list[Review]:
    """Every verdict given on a queue item, oldest first."""
    return list(session.scalars(select(Review).where(Review.item_id == item_id)
                                .order_by(Review.created_at, Review.id)))


def item_score(session: Session, item_id: int) -> Score | None:
    """The score row (probability, per-segment scores) that put the item in the queue."""
    score_id = session.scalar(select(ReviewItem.score_id).where(ReviewItem.id == item_id))
    return session.get(Score, score_id) if score_id is not None else None


def list_jobs(session: Session, limit: int = 200) -> list[ScoringJob]:
    """Scoring jobs, most recently started first."""
    return list(session.scalars(select(ScoringJob).order_by(ScoringJob.started_at.desc(), ScoringJob.id.desc())
                                .limit(limit)))


def job_scores(session: Session, job_id: str, limit: int = 100, offset: int = 0) -> list[tuple[Score, str]]:
    """A page of one job's score rows with their clip URIs, in clip order."""
    stmt = (select(Score, Clip.uri).join(Clip, Clip.id == Score.clip_id)
            .join(ScoringJob, ScoringJob.id == Score.scoring_job_id).where(ScoringJob.job_id == job_id)
            .order_by(Score.id).limit(limit).offset(offset))
    return [(s, uri) for s, uri in session.execute(stmt)]


def job_score_values(session: Session, job_id: str) -> list[float]:
    """All non-error clip scores of a job (for its histogram); one column, so cheap even for 100k rows."""
    stmt = (select(Score.score).join(ScoringJob, ScoringJob.id == Score.scoring_job_id)
            .where(ScoringJob.job_id == job_id, Score.score.is_not(None)))
    return [float(v) for v in session.scalars(stmt)]
