"""Reviewer accounts: bcrypt password hashes and roles (reviewer, lead, admin)."""

from __future__ import annotations

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import OPERATOR_ROLES, ROLES, Reviewer


def add_reviewer(
    session: Session, username: str, password: str, role: str = "reviewer", actor: str = "admin", rounds: int = 12
) -> Reviewer:
    """Create a reviewer; raises ValueError on a bad role/empty or >72-byte password."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    secret = password.encode()
    if not secret or len(secret) > 72:  # bcrypt only reads 72 bytes: refuse rather than truncate
        raise ValueError("password must be 1..72 bytes")
    reviewer = Reviewer(username=username, role=role, password_hash=bcrypt.hashpw(secret, bcrypt.gensalt(rounds)))
    session.add(reviewer)
    session.flush()
    audit(session, actor, "reviewer.add", username=username, role=role)
    return reviewer


def authenticate(session: Session, username: str, password: str) -> Reviewer | None:
    """The active reviewer if the password matches, else None."""
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
    if reviewer is None or not reviewer.active:
        return None
    secret = password.encode()
    if len(secret) > 72 or not bcrypt.checkpw(secret, reviewer.password_hash):
        return None
    return reviewer


def set_role(session: Session, username: str, role: str, actor: str = "admin") -> Reviewer:
    """Change a reviewer's role."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
    if reviewer is None:
        raise LookupError(f"no reviewer {username!r}")
    reviewer.role = role
    audit(session, actor, "reviewer.role", username=username, role=role)
    return reviewer


def set_active(session: Session, username: str, active: bool, actor: str = "admin") -> Reviewer:
    """Disable (or re-enable) an account: a disabled reviewer can neither sign in nor record verdicts.

    Accounts are disabled rather than deleted so their past verdicts and audit events keep a name.
    """
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
    if reviewer is None:
        raise LookupError(f"no reviewer {username!r}")
    reviewer.active = active
    audit(session, actor, "reviewer.enable" if active else "reviewer.disable", username=username)
    return reviewer


def is_disabled(session: Session, username: str) -> bool:
    """True when `username` has an account and it is disabled (names without an account are not)."""
    active = session.scalar(select(Reviewer.active).where(Reviewer.username == username))
    return active is False


def may_run_jobs(session: Session, username: str) -> bool:
    """True only for an active account whose role may start scoring jobs (operator or admin)."""
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
    return reviewer is not None and reviewer.active and reviewer.role in OPERATOR_ROLES


def list_reviewers(session: Session) -> list[Reviewer]:
    """All reviewers by username."""
    return list(session.scalars(select(Reviewer).order_by(Reviewer.username)))


def roles_of(session: Session, usernames: set[str]) -> dict[str, str]:
    """Role per known username (unknown names are plain reviewers)."""
    if not usernames:
        return {}
    rows = session.execute(select(Reviewer.username, Reviewer.role).where(Reviewer.username.in_(usernames)))
    return {name: role for name, role in rows}
