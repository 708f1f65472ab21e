"""Instant adaptation: verified bona fide clip embeddings per group (speaker, source...).

The model computes embeddings; this module stores them (float32 bytes) and hands
back per-group reference banks for the next scoring run, before any retraining.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import ITEM_DECIDED, Clip, Enrollment, ReviewItem, utcnow
from voxguard.errors import InputError, NotFound


def is_verified_bonafide(session: Session, clip_id: int) -> bool:
    """True when reviewers decided the clip is bona fide (and never decided spoof)."""
    finals = set(session.scalars(select(ReviewItem.final_verdict).where(
        ReviewItem.clip_id == clip_id, ReviewItem.status == ITEM_DECIDED)))
    return "bonafide" in finals and "spoof" not in finals


def verified_bonafide_uris(session: Session, since: dt.datetime | None = None) -> list[str]:
    """URIs of clips verified bona fide (candidates for enrollment)."""
    stmt = (select(Clip.uri).join(ReviewItem, ReviewItem.clip_id == Clip.id)
            .where(ReviewItem.status == ITEM_DECIDED, ReviewItem.final_verdict == "bonafide").distinct())
    if since is not None:
        stmt = stmt.where(ReviewItem.decided_at > since)
    return [u for u in session.scalars(stmt) if is_verified_bonafide(session, _clip_id(session, u))]


def _clip_id(session: Session, uri: str) -> int:
    clip_id = session.scalar(select(Clip.id).where(Clip.uri == uri))
    if clip_id is None:
        raise NotFound(f"unknown clip {uri!r}")
    return clip_id


def enroll(
    session: Session, group: str, clip_uri: str, embedding: np.ndarray, model_version: str,
    actor: str = "system", require_verified: bool = True,
) -> Enrollment:
    """Store (or replace) a clip's embedding in `group`'s bank for `model_version`."""
    clip_id = _clip_id(session, clip_uri)
    if require_verified and not is_verified_bonafide(session, clip_id):
        raise InputError(f"{clip_uri!r} is not a verified bona fide clip")
    vec = np.asarray(embedding, dtype="<f4").reshape(-1)
    if vec.size == 0 or not np.all(np.isfinite(vec)):
        raise ValueError("embedding must be a non-empty finite vector")
    row = session.scalar(select(Enrollment).where(Enrollment.group_name == group, Enrollment.clip_id == clip_id,
                                                  Enrollment.model_version == model_version))
    if row is None:
        row = Enrollment(group_name=group, clip_id=clip_id, model_version=model_version)
        session.add(row)
    row.embedding, row.dim, row.created_by, row.created_at = vec.tobytes(), int(vec.size), actor, utcnow()
    session.flush()
    audit(session, actor, "enrollment.add", group=group, uri=clip_uri, model_version=model_version, dim=int(vec.size))
    return row


def remove_enrollment(session: Session, enrollment_id: int, actor: str = "system") -> None:
    """Delete one enrollment."""
    row = session.get(Enrollment, enrollment_id)
    if row is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    session.delete(row)
    audit(session, actor, "enrollment.remove", enrollment_id=enrollment_id, group=row.group_name)


def list_enrollments(session: Session, group: str | None = None, model_version: str | None = None) -> list[Enrollment]:
    """Enrollments, filtered by group and/or model version."""
    stmt = select(Enrollment).order_by(Enrollment.group_name, Enrollment.id)
    if group is not None:
        stmt = stmt.where(Enrollment.group_name == group)
    if model_version is not None:
        stmt = stmt.where(Enrollment.model_version == model_version)
    return list(session.scalars(stmt))


def reference_bank(session: Session, model_version: str, group: str | None = None) -> dict[str, np.ndarray]:
    """Per-group [n, dim] float32 matrices of enrolled embeddings for one model version."""
    bank: dict[str, list[np.ndarray]] = {}
    for row in list_enrollments(session, group, model_version):
        bank.setdefault(row.group_name, []).append(np.frombuffer(row.embedding, dtype="<f4"))
    out = {}
    for name, vecs in bank.items():
        if len({v.size for v in vecs}) != 1:
            raise ValueError(f"group {name!r} mixes embedding sizes for {model_version!r}")
        out[name] = np.stack(vecs).astype(np.float32)
    return out
