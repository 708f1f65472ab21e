"""Builders shared by the feedback tests (scoring rows, verdict shortcuts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from feedback.db import session_scope
from feedback.queue import enqueue_scores, item_for_clip, record_verdict


def row(uri: str, label: str = "spoof", confidence: float = 0.8, flagged: bool | None = None,
        error: str | None = None) -> dict[str, Any]:
    """One scoring output row as the scoring job writes it."""
    p_bona = 0.5 - confidence / 2 if label == "spoof" else 0.5 + confidence / 2
    return {
        "uri": uri, "fingerprint": f"fp-{uri}", "duration_s": 3.0, "size_bytes": 1234,
        "score": 1 - p_bona, "prob_bonafide": p_bona, "label": label, "confidence": confidence,
        "flagged": (label == "spoof") if flagged is None else flagged,
        "segments": [{"start": 0.0, "end": 1.5, "score": 0.9}], "error": error,
    }


def scored_items(factory: sessionmaker[Session], rows: list[dict[str, Any]], job: str = "job-1",
                 model_version: str = "v1") -> dict[str, int]:
    """Enqueue rows and return {uri: item_id} of the queued ones."""
    with session_scope(factory) as s:
        enqueue_scores(s, rows, job, model_version)
    with factory() as s:
        out = {}
        for r in rows:
            item = item_for_clip(s, r["uri"], model_version)
            if item is not None:
                out[r["uri"]] = item.id
        return out


def verdict(factory: sessionmaker[Session], item_id: int, reviewer: str, value: str, **kw: Any):
    """Record a verdict in its own transaction."""
    with session_scope(factory) as s:
        return record_verdict(s, item_id, reviewer, value, **kw)
