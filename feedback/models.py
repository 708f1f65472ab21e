"""ORM schema of the feedback database (SQLAlchemy 2.x typed declarative).

One schema serves SQLite (default, a file) and PostgreSQL. Timestamps are stored
as naive UTC and handed back timezone-aware (`UtcDateTime`), because SQLite has no
timezone type and mixing naive/aware datetimes is a classic source of bugs.
Alembic migrations in `feedback/migrations` are generated from this metadata;
change both together.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Verdict and status vocabularies (plain strings in the DB: portable, readable).
VERDICTS = ("bonafide", "spoof", "unsure")
ROLES = ("reviewer", "lead", "operator", "admin")
# Roles that may start scoring jobs (they read and write storage as the server's user).
OPERATOR_ROLES = ("operator", "admin")
MODEL_STATUSES = ("candidate", "production", "retired")
ITEM_OPEN, ITEM_DECIDED = "open", "decided"
RUN_REQUESTED, RUN_PENDING, RUN_RUNNING = "requested", "pending", "running"
RUN_SUCCEEDED, RUN_FAILED = "succeeded", "failed"
TRIGGERS = ("manual", "mismatches", "age")


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC; rejects naive input (ambiguous)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the feedback DB; use timezone-aware UTC")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (needed by migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Clip(Base):
    """An audio object, identified by its URI (local path or s3://...)."""

    __tablename__ = "clips"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(128), index=True)
    duration_s: Mapped[float | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScoringJob(Base):
    """One scoring run over a source (folder or bucket prefix)."""

    __tablename__ = "scoring_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str | None] = mapped_column(String(2048))
    dest: Mapped[str | None] = mapped_column(String(2048))
    model_version: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32), default="running")
    n_total: Mapped[int] = mapped_column(default=0)
    n_flagged: Mapped[int] = mapped_column(default=0)
    n_errors: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class Score(Base):
    """The output of one model version on one clip in one scoring job."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("clip_id", "scoring_job_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    scoring_job_id: Mapped[int] = mapped_column(
        ForeignKey("scoring_jobs.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(128))
    score: Mapped[float | None]
    prob_bonafide: Mapped[float | None]
    label: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    flagged: Mapped[bool] = mapped_column(default=False)
    segments: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    clip: Mapped[Clip] = relationship()


class ReviewItem(Base):
    """A review-queue entry: one per (clip, model version), whatever the re-scoring."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("clip_id", "model_version"),
        # Serves the default queue order (open items, highest priority first) and keyset paging.
        Index("ix_review_items_queue", "status", "priority", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(128))
    score_id: Mapped[int | None] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"))
    scoring_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("scoring_jobs.id", ondelete="SET NULL"), index=True
    )
    model_label: Mapped[str | None] = mapped_column(String(32))
    model_score: Mapped[float | None]
    confidence: Mapped[float | None]
    flagged: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[float] = mapped_column(default=0.0)
    status: Mapped[str] = mapped_column(String(16), default=ITEM_OPEN)
    final_verdict: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # Optimistic-concurrency counter: every state change is UPDATE ... WHERE version = seen.
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    clip: Mapped[Clip] = relationship()


class Review(Base):
    """One reviewer's verdict on one queue item (several per item are normal)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(128), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only log: who did what, when, with which details."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Reviewer(Base):
    """A person allowed to review; password stored as a bcrypt hash only."""

    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16), default="reviewer")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained model package known to the registry."""

    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one production model, enforced by the database itself.
        Index(
            "uq_model_versions_one_production",
            "status",
            unique=True,
            sqlite_where=text("status = 'production'"),
            postgresql_where=text("status = 'production'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    artefact_uri: Mapped[str] = mapped_column(String(2048))
    threshold: Mapped[float | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parent: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[dt.datetime | None]
    retired_at: Mapped[dt.datetime | None]


class RetrainPolicy(Base):
    """The single row of feedback knobs (id is always 1)."""

    __tablename__ = "retrain_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    min_mismatches: Mapped[int] = mapped_column(default=20)
    max_age_days: Mapped[float] = mapped_column(default=7.0)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Review rule lives here too so every feedback knob is in one stored row.
    required_agreement: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class RetrainRun(Base):
    """One retraining attempt, from request to gate decision."""

    __tablename__ = "retrain_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    gate: Mapped[dict[str, Any]] = mapped_column(default=dict)
    champion_version: Mapped[str | None] = mapped_column(String(128))
    challenger_version: Mapped[str | None] = mapped_column(String(128))
    # What the job saw when it started (e.g. counts, feedback cut-off), for reproducibility.
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A named mutual-exclusion lease with expiry (e.g. 'retrain')."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime]


class Enrollment(Base):
    """A verified bona fide clip's embedding in a group's reference bank."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("group_name", "clip_id", "model_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    group_name: Mapped[str] = mapped_column(String(255), index=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(128))
    # float32 little-endian bytes; dim kept so a wrong-model embedding is caught early.
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    dim: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    clip: Mapped[Clip] = relationship()


ALERT_EVENTS = ("score.finished", "spoof.found", "queue.backlog", "retrain.finished", "retrain.failed")


class AlertHook(Base):
    """A webhook: where alerts of the chosen events are POSTed, signed with `secret`."""

    __tablename__ = "alert_hooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[Any]] = mapped_column(default=list)
    # HMAC-SHA256 key of the signature header; the receiver holds the same value.
    secret: Mapped[str] = mapped_column(String(255))
    # Thresholds of the events that have one: spoof_confidence, backlog_clips, backlog_hours.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """The delivery log: one row per alert sent to a hook, with the outcome of its attempts."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    hook_id: Mapped[int | None] = mapped_column(ForeignKey("alert_hooks.id", ondelete="SET NULL"), index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


__all__ = [
    "AlertDelivery",
    "AlertHook",
    "AuditEvent",
    "Base",
    "Clip",
    "Enrollment",
    "Lease",
    "ModelVersion",
    "RetrainPolicy",
    "RetrainRun",
    "Review",
    "ReviewItem",
    "Reviewer",
    "Score",
    "ScoringJob",
]
