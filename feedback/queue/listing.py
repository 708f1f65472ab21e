"""Reading the queue: filtered pages (keyset cursors), facets, counts and one item's details.

Why its own module: these are the reviewer-facing read paths (dashboard, CLI
`review list`); they never change state, so they can be cached and paged freely.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.orm import Session

from feedback.models import ITEM_OPEN, Clip, Review, ReviewItem, Score, ScoringJob
from voxguard.errors import InputError


@dataclass(frozen=True)
class QueueFilter:
    """Queue listing filters; None means "any"."""

    status: str | None = ITEM_OPEN
    job_id: str | None = None
    model_version: str | None = None
    flagged: bool | None = None
    model_label: str | None = None
    source: str | None = None  # Clip.source (added for the dashboard's filters)
    name: str | None = None  # part of the clip's path or file name, any case (typed literally: % and _ too)
    score_min: float | None = None  # model score range, inclusive
    score_max: float | None = None
    item_ids: tuple[int, ...] | None = None  # only these items (e.g. the ones assigned to a reviewer)


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
    conds = filter_conditions(f)
    if sort == "priority":
        order = (ReviewItem.priority.desc(), ReviewItem.id.desc())
    elif sort == "newest":
        order = (ReviewItem.id.desc(),)
    elif sort == "oldest":
        order = (ReviewItem.id.asc(),)
    else:
        raise InputError(f"unknown sort {sort!r} (priority, newest, oldest)")

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


def filter_conditions(f: QueueFilter) -> list[Any]:
    """SQL conditions on ReviewItem for a filter (shared by listing and assignment)."""
    conds: list[Any] = []
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
    if f.name:
        conds.append(ReviewItem.clip_id.in_(select(Clip.id).where(Clip.uri.icontains(f.name, autoescape=True))))
    if f.score_min is not None:
        conds.append(ReviewItem.model_score >= f.score_min)
    if f.score_max is not None:
        conds.append(ReviewItem.model_score <= f.score_max)
    if f.item_ids is not None:
        conds.append(ReviewItem.id.in_(f.item_ids))
    if f.job_id:
        conds.append(exists().where(
            Score.clip_id == ReviewItem.clip_id, Score.scoring_job_id == ScoringJob.id,
            ScoringJob.job_id == f.job_id,
        ))
    return conds


def _encode_cursor(priority: float, item_id: int) -> str:
    return base64.urlsafe_b64encode(f"{priority!r}|{item_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        p, i = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return float(p), int(i)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("invalid queue cursor") from exc


def item_for_clip(session: Session, uri: str, model_version: str | None = None) -> ReviewItem | None:
    """The queue item of a clip (for `model_version`, else the most recent one)."""
    stmt = select(ReviewItem).join(Clip, Clip.id == ReviewItem.clip_id).where(Clip.uri == uri)
    if model_version:
        stmt = stmt.where(ReviewItem.model_version == model_version)
    return session.scalar(stmt.order_by(ReviewItem.id.desc()).limit(1))


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
