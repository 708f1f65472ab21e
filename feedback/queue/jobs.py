"""Scoring-job queries for the dashboard's Jobs page: the job list and one job's scores."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Clip, Score, ScoringJob

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


def job_score_labels(session: Session, job_id: str) -> list[tuple[float, str | None]]:
    """(score, label) of every non-error clip of a job: the histogram split by label (two columns only)."""
    stmt = (select(Score.score, Score.label).join(ScoringJob, ScoringJob.id == Score.scoring_job_id)
            .where(ScoringJob.job_id == job_id, Score.score.is_not(None)))
    return [(float(v), label) for v, label in session.execute(stmt)]


def job_score_medians(session: Session, job_ids: list[str]) -> dict[str, float]:
    """Median clip score per job (score drift across jobs); computed here so SQLite and PostgreSQL agree."""
    out: dict[str, float] = {}
    for job_id in job_ids:
        values = sorted(v for v, _ in job_score_labels(session, job_id))
        if values:
            mid = len(values) // 2
            out[job_id] = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return out
