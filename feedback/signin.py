"""Password sign-in with per-account lockout and per-client backoff, for the dashboard and the review CLI.

Why: without a limit anyone can guess passwords as fast as bcrypt allows, and
every failed attempt stored the username as typed (megabytes each). Here:

- after `MAX_FAILURES` failed attempts on one account within `WINDOW`, the
  account is locked until the window has passed since the latest failure
  (the password is not even checked), and the lock is audited once;
- failed attempts are recorded in the audit trail (that is the counter, so a
  restart or a second dashboard process changes nothing), under the
  normalised username cut to `MAX_USERNAME` characters;
- audit growth is bounded: a locked account adds no rows, and failures on
  names without an account stop being recorded once `MAX_ANONYMOUS_ROWS`
  were recorded within the window (such attempts are still refused).

- per client (the dashboard passes the browser's address, the CLI the local
  user and host): after `CLIENT_FREE_FAILURES` failures within `WINDOW`, each
  further attempt from that client must wait `2**k` seconds (k = failures over
  the free ones, capped at `CLIENT_MAX_DELAY`) after its latest failure, or it
  is refused unchecked and unrecorded. So one client cannot lock many accounts
  fast (each lock needs `MAX_FAILURES` failures, and they get exponentially
  slower) nor hammer one. A success does not clear a client's count (one
  valid account must not reset the backoff for guessing others).

A successful sign-in clears the account's count. The same outcome message is given for
an unknown name and a wrong password, so names cannot be probed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import AuditEvent, Reviewer, utcnow
from feedback.reviewers import MAX_USERNAME, authenticate, normalise_username

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
MAX_ANONYMOUS_ROWS = 1000
CLIENT_FREE_FAILURES = 5
CLIENT_BASE_DELAY = dt.timedelta(seconds=1)  # doubled for each failure over the free ones
CLIENT_MAX_DELAY = dt.timedelta(minutes=15)
MAX_CLIENT = 128  # characters of a client id kept in the audit trail
FAILED, LOCKED, OK = "auth.sign_in_failed", "auth.locked", "auth.sign_in"
THROTTLED = "auth.client_throttled"
WRONG = "unknown username or wrong password"


@dataclass(frozen=True)
class SignIn:
    """The account when the sign-in succeeded, else None and a one-line reason for the person."""

    reviewer: Reviewer | None
    message: str = ""


def sign_in(session: Session, username: str, password: str, channel: str = "dashboard",
            now: dt.datetime | None = None, client: str | None = None) -> SignIn:
    """Check a password, counting failures per account and per `client` (see module docstring).

    `client` identifies where the attempt comes from (an address); None turns the
    per-client backoff off (callers that cannot tell clients apart).
    """
    now = now or utcnow()
    key = normalise_username(username)[:MAX_USERNAME]
    if not key or not password:
        return SignIn(None, WRONG)
    client = client[:MAX_CLIENT] if client else None
    if client is not None:
        wait = client_wait(session, client, now)
        if wait > 0:
            return SignIn(None, f"too many failed sign-ins from this address: try again in {_human(wait)}")
    failures, latest = _recent_failures(session, key, now)
    if failures >= MAX_FAILURES:
        wait = max(1, int((latest + WINDOW - now).total_seconds() // 60) + 1)
        return SignIn(None, f"too many failed sign-ins for this account: try again in {wait} min")
    reviewer = authenticate(session, key, password)
    if reviewer is not None:
        audit(session, reviewer.username, OK, now=now, channel=channel)
        return SignIn(reviewer)
    exists = session.scalar(select(func.count()).select_from(Reviewer)
                            .where(func.lower(Reviewer.username) == key)) > 0
    if exists or _anonymous_rows(session, now) < MAX_ANONYMOUS_ROWS:
        audit(session, key, FAILED, now=now, channel=channel, client=client)
        if failures + 1 >= MAX_FAILURES:
            audit(session, key, LOCKED, now=now, channel=channel, failures=failures + 1)
        if client is not None and _client_failures(session, client, now)[0] == CLIENT_FREE_FAILURES:
            audit(session, client, THROTTLED, now=now, channel=channel)
    if exists and _is_inactive(session, key) and _password_ok(session, key, password):
        return SignIn(None, f"reviewer {key!r} is disabled")
    return SignIn(None, WRONG)


def client_wait(session: Session, client: str, now: dt.datetime | None = None) -> float:
    """Seconds `client` must still wait before its next attempt is checked (0: it may try now)."""
    now = now or utcnow()
    count, latest = _client_failures(session, client, now)
    if count < CLIENT_FREE_FAILURES or latest is None:
        return 0.0
    delay = min(CLIENT_BASE_DELAY * 2 ** min(count - CLIENT_FREE_FAILURES, 30), CLIENT_MAX_DELAY)
    return max(0.0, (latest + delay - now).total_seconds())


def _client_failures(session: Session, client: str, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Failed sign-ins recorded from `client` within the window, and the latest one's time."""
    count, latest = session.execute(
        select(func.count(), func.max(AuditEvent.created_at))
        .where(AuditEvent.action == FAILED, AuditEvent.created_at > now - WINDOW,
               AuditEvent.details["client"].as_string() == client)
    ).one()
    return int(count), _aware(latest) if latest is not None else None


def _human(seconds: float) -> str:
    return f"{int(seconds) + 1} s" if seconds < 60 else f"{int(seconds // 60) + 1} min"


def _recent_failures(session: Session, key: str, now: dt.datetime) -> tuple[int, dt.datetime]:
    """Failures on `key` within the window and after its latest success; and when the latest was."""
    since = now - WINDOW
    last_ok = session.scalar(select(func.max(AuditEvent.created_at))
                             .where(AuditEvent.action == OK, AuditEvent.actor == key, AuditEvent.created_at >= since))
    if last_ok is not None:
        since = max(since, _aware(last_ok))
    count, latest = session.execute(
        select(func.count(), func.max(AuditEvent.created_at))
        .where(AuditEvent.action == FAILED, AuditEvent.actor == key, AuditEvent.created_at > since)
    ).one()
    return int(count), _aware(latest) if latest is not None else now


def _anonymous_rows(session: Session, now: dt.datetime) -> int:
    known = select(func.lower(Reviewer.username))
    return int(session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == FAILED, AuditEvent.created_at >= now - WINDOW, AuditEvent.actor.not_in(known))
    ) or 0)


def _is_inactive(session: Session, key: str) -> bool:
    return session.scalar(select(Reviewer.active).where(func.lower(Reviewer.username) == key)) is False


def _password_ok(session: Session, key: str, password: str) -> bool:
    """For a disabled account only: say "disabled" to its owner, not to a guesser."""
    import bcrypt

    reviewer = session.scalars(select(Reviewer).where(func.lower(Reviewer.username) == key)).first()
    secret = password.encode()
    return reviewer is not None and len(secret) <= 72 and bcrypt.checkpw(secret, reviewer.password_hash)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes (stored as UTC); PostgreSQL aware ones.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
