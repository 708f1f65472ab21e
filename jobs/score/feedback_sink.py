"""Scoring -> feedback database: every written part's rows are stored, flagged
clips enter the review queue (idempotently), and the job record is closed at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from feedback.db import session_scope
from feedback.queue import enqueue_scores, finish_job


class FeedbackSink:
    """`on_rows` hook for `run_scoring`; job id and model version come with the rows.

    `sessions` is the command's session factory (its one engine); the caller migrates the
    schema first (`CommandContext.migrate`), so a scoring job never meets a missing table.
    """

    def __init__(self, sessions: sessionmaker[Session], source: str, dest: str) -> None:
        self._factory = sessions
        self.source, self.dest = source, dest
        self.items_created = 0
        self.job_id: str | None = None
        self.model_version: str | None = None

    def on_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store one part's rows (called after the part is durably written)."""
        if not rows:
            return
        self.job_id, self.model_version = rows[0]["job_id"], rows[0]["model_version"]
        with session_scope(self._factory) as session:
            result = enqueue_scores(
                session, rows, rows[0]["job_id"], rows[0]["model_version"], source=self.source, dest=self.dest
            )
            self.items_created += result.items_created

    def fail(self) -> bool:
        """Best effort: mark the job record failed (the database may be the reason it failed)."""
        if self.job_id is None:
            return False
        try:
            self.finish({"job_id": self.job_id, "model_version": self.model_version}, status="failed")
        except Exception:  # noqa: BLE001 - still down: --resume brings the record up to date
            return False
        return True

    def finish(self, summary: dict[str, Any], status: str = "done") -> None:
        """Close the job record from the job summary."""
        with session_scope(self._factory) as session:
            finish_job(
                session, summary["job_id"], status,
                model_version=summary.get("model_version"), source=self.source, dest=self.dest,
            )
