"""Model registry: candidate / production / retired versions, atomic promotion and rollback.

Promotion and rollback are one transaction each (the caller commits): the old
production is retired and the new one promoted together, so a crash anywhere
before commit leaves the old production serving. A partial unique index
guarantees at most one production row even under concurrent promotions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import ModelVersion, utcnow
from voxguard.errors import NotFound


def register_candidate(
    session: Session,
    version: str,
    artefact_uri: str,
    threshold: float | None = None,
    metrics: dict[str, Any] | None = None,
    parent: str | None = None,
    actor: str = "system",
) -> ModelVersion:
    """Add a new candidate model version."""
    mv = ModelVersion(version=version, status="candidate", artefact_uri=artefact_uri,
                      threshold=threshold, metrics=metrics or {}, parent=parent, created_at=utcnow())
    session.add(mv)
    session.flush()
    audit(session, actor, "model.register", version=version, artefact_uri=artefact_uri, parent=parent)
    return mv


def list_versions(session: Session, status: str | None = None) -> list[ModelVersion]:
    """Model versions, newest first."""
    stmt = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    if status:
        stmt = stmt.where(ModelVersion.status == status)
    return list(session.scalars(stmt))


def get_version(session: Session, version: str) -> ModelVersion | None:
    """One model version by name."""
    return session.scalar(select(ModelVersion).where(ModelVersion.version == version))


def production(session: Session) -> ModelVersion | None:
    """The production model version, if any."""
    return session.scalar(select(ModelVersion).where(ModelVersion.status == "production"))


def promote(
    session: Session,
    version: str,
    actor: str = "system",
    now: dt.datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ModelVersion:
    """Make `version` (candidate or retired) production, retiring the current one, atomically.

    `on_step(name)` is called after each step ("retired-old", "promoted-new"):
    progress reporting, and the place where tests inject a crash.
    """
    now = now or utcnow()
    target = get_version(session, version)
    if target is None:
        raise NotFound(f"no model version {version!r} (see `voxguard models list`)")
    if target.status == "production":
        return target
    old = production(session)
    _swap(session, old, target, now, on_step)
    audit(session, actor, "model.promote", now=now, version=version, previous=old.version if old else None)
    return target


def rollback(
    session: Session, actor: str = "system", now: dt.datetime | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ModelVersion:
    """Return to the model that was production before the current one (atomic, like promote)."""
    now = now or utcnow()
    current = production(session)
    if current is None:
        raise NotFound("no production model to roll back from")
    previous = session.scalar(
        select(ModelVersion)
        .where(ModelVersion.status == "retired", ModelVersion.promoted_at.is_not(None),
               ModelVersion.promoted_at < current.promoted_at)
        .order_by(ModelVersion.promoted_at.desc()).limit(1)
    )
    if previous is None:
        raise NotFound(f"no earlier production model than {current.version!r}")
    _swap(session, current, previous, now, on_step)
    audit(session, actor, "model.rollback", now=now, version=previous.version, previous=current.version)
    return previous


def _swap(
    session: Session, old: ModelVersion | None, new: ModelVersion, now: dt.datetime,
    on_step: Callable[[str], None] | None,
) -> None:
    # Retire first: the partial unique index forbids two production rows at any moment.
    if old is not None:
        res = session.execute(
            update(ModelVersion).where(ModelVersion.id == old.id, ModelVersion.status == "production")
            .values(status="retired", retired_at=now).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise RuntimeError(f"{old.version!r} stopped being production concurrently")
    if on_step:
        on_step("retired-old")
    res = session.execute(
        update(ModelVersion).where(ModelVersion.id == new.id, ModelVersion.status.in_(("candidate", "retired")))
        .values(status="production", promoted_at=now, retired_at=None)
        .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        raise RuntimeError(f"{new.version!r} changed status concurrently")
    if on_step:
        on_step("promoted-new")
    session.flush()
    for mv in (old, new):
        if mv is not None:
            session.expire(mv)
