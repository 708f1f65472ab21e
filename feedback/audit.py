"""Append-only audit trail: every change to feedback state records who/what/when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import AuditEvent, utcnow


def audit(session: Session, actor: str, action: str, now: dt.datetime | None = None, **details: Any) -> None:
    """Add an audit event to the current transaction (committed with the change it logs)."""
    session.add(AuditEvent(actor=actor, action=action, details=_jsonable(details), created_at=now or utcnow()))


def list_events(session: Session, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
    """Most recent audit events first, optionally of one action."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.scalars(stmt))


def _jsonable(value: Any) -> Any:
    # JSON columns reject datetimes and numpy scalars; keep the log writable whatever it gets.
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
