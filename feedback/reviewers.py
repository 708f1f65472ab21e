"""Reviewer accounts: bcrypt password hashes and roles (reviewer, lead, operator, admin).

Usernames are normalised (NFKC, trimmed, case-folded) when stored and when
looked up, so `Alice` and `alice` are one account: otherwise disabling
`alice` would leave `Alice` free to sign in and record verdicts. Lookups
also compare case-insensitively, for rows stored before normalisation.
"""

from __future__ import annotations

import unicodedata

import bcrypt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import OPERATOR_ROLES, ROLES, Reviewer
from voxguard.errors import AlreadyExists, InputError, NotFound


MAX_USERNAME = 64  # characters; longer input is refused (accounts) or cut (audit of failed sign-ins)


def normalise_username(name: str) -> str:
    """The one spelling of a username that is stored and compared."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _find(session: Session, username: str) -> Reviewer | None:
    key = normalise_username(username)[: MAX_USERNAME + 1]
    return session.scalars(select(Reviewer).where(func.lower(Reviewer.username) == key)
                           .order_by(Reviewer.id)).first()


def add_reviewer(
    session: Session, username: str, password: str, role: str = "reviewer", actor: str = "admin", rounds: int = 12
) -> Reviewer:
    """Create a reviewer; raises InputError (a ValueError) on a bad role, username or an empty or
    >72-byte password, AlreadyExists when the name is taken (case and spelling variants included)."""
    if role not in ROLES:
        raise InputError(f"role must be one of {ROLES}, not {role!r}")
    username = normalise_username(username)
    if not username or len(username) > MAX_USERNAME:
        raise InputError(f"username must be 1..{MAX_USERNAME} characters")
    # Checked before hashing (slow) and before the INSERT, whose IntegrityError would read like a bug.
    if _find(session, username) is not None:
        raise AlreadyExists(f"reviewer {username!r} already exists (`voxguard review reviewers list`)")
    secret = password.encode()
    if not secret or len(secret) > 72:  # bcrypt only reads 72 bytes: refuse rather than truncate
        raise InputError("password must be 1..72 bytes")
    reviewer = Reviewer(username=username, role=role, password_hash=bcrypt.hashpw(secret, bcrypt.gensalt(rounds)))
    session.add(reviewer)
    session.flush()
    audit(session, actor, "reviewer.add", username=username, role=role)
    return reviewer


def authenticate(session: Session, username: str, password: str) -> Reviewer | None:
    """The active reviewer if the password matches, else None."""
    reviewer = _find(session, username)
    if reviewer is None or not reviewer.active:
        return None
    secret = password.encode()
    if len(secret) > 72 or not bcrypt.checkpw(secret, reviewer.password_hash):
        return None
    return reviewer


def set_role(session: Session, username: str, role: str, actor: str = "admin") -> Reviewer:
    """Change a reviewer's role."""
    if role not in ROLES:
        raise InputError(f"role must be one of {ROLES}, not {role!r}")
    reviewer = _find(session, username)
    if reviewer is None:
        raise NotFound(f"no reviewer {username!r}")
    reviewer.role = role
    audit(session, actor, "reviewer.role", username=username, role=role)
    return reviewer


def set_active(session: Session, username: str, active: bool, actor: str = "admin") -> Reviewer:
    """Disable (or re-enable) an account: a disabled reviewer can neither sign in nor record verdicts.

    Accounts are disabled rather than deleted so their past verdicts and audit events keep a name.
    """
    reviewer = _find(session, username)
    if reviewer is None:
        raise NotFound(f"no reviewer {username!r}")
    reviewer.active = active
    audit(session, actor, "reviewer.enable" if active else "reviewer.disable", username=username)
    return reviewer


def is_disabled(session: Session, username: str) -> bool:
    """True when `username` has an account and it is disabled (names without an account are not).

    Case-insensitive: any account spelled like `username` being disabled is enough.
    """
    key = normalise_username(username)[: MAX_USERNAME + 1]
    states = session.scalars(select(Reviewer.active).where(func.lower(Reviewer.username) == key)).all()
    return any(active is False for active in states)


def may_run_jobs(session: Session, username: str) -> bool:
    """True only for an active account whose role may start scoring jobs (operator or admin)."""
    reviewer = _find(session, username)
    return reviewer is not None and reviewer.active and reviewer.role in OPERATOR_ROLES


def list_reviewers(session: Session) -> list[Reviewer]:
    """All reviewers by username."""
    return list(session.scalars(select(Reviewer).order_by(Reviewer.username)))


def roles_of(session: Session, usernames: set[str]) -> dict[str, str]:
    """Role per known username, keyed as given (unknown names are plain reviewers)."""
    if not usernames:
        return {}
    keys = {u: normalise_username(u) for u in usernames}
    rows = session.execute(select(Reviewer.username, Reviewer.role)
                           .where(func.lower(Reviewer.username).in_(set(keys.values()))))
    by_key = {normalise_username(name): role for name, role in rows}
    return {given: by_key[key] for given, key in keys.items() if key in by_key}
