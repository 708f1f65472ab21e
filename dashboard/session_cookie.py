"""Keep a local sign-in across reloads: a signed, expiring session cookie (no secret in the URL).

Why: Streamlit's session state lives in one websocket; F5 opens a new one and
the reviewer was back at the sign-in form ("Page not found" on a deep link).
Streamlit's own persistent sign-in (`st.login`) needs an OIDC provider; for
local accounts a script run cannot set an HTTP cookie (`st.context.cookies` is
read-only), so:

- the token is signed and timestamped with itsdangerous (Pallets; a Streamlit
  dependency already): `{"u": username, "iat": time}`, valid `MAX_AGE` seconds;
- it is written by a zero-height component in the page (`document.cookie`,
  `SameSite=Strict`, `Secure` on https, `Max-Age`), and read back from the
  websocket's initial request by `st.context.cookies` on the next load;
- the server trusts nothing else in it: the role comes from the database, a
  disabled account is refused, and signing out revokes every token of that
  account issued before (an `auth.sign_out` audit event), so a copied cookie
  dies with the sign-out even though JavaScript-set cookies cannot be HttpOnly.

The signing key is `VOXGUARD_SESSION_SECRET` (or `session_secret` in secrets.toml),
else a random key created once in the data dir (mode 0600).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import AuditEvent, Reviewer
from feedback.reviewers import is_disabled, normalise_username

COOKIE = "voxguard_session"
MAX_AGE_S = 12 * 3600  # one working day; a new sign-in after that
SIGN_OUT = "auth.sign_out"
_SALT = "voxguard-dashboard-session"


def secret_key(configured: str, data_dir: Path) -> str:
    """The configured key, else one generated once and kept in `data_dir/session-secret` (0600)."""
    if configured:
        return configured
    path = Path(data_dir) / "session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def issue(username: str, key: str, now: float | None = None) -> str:
    """A signed, timestamped token naming `username`."""
    return URLSafeTimedSerializer(key, salt=_SALT).dumps({"u": username, "iat": now or time.time()})


def verify(token: str, key: str, max_age_s: int = MAX_AGE_S) -> tuple[str, float] | None:
    """(username, issued at) of a valid, unexpired token; None for anything else."""
    try:
        data = URLSafeTimedSerializer(key, salt=_SALT).loads(token, max_age=max_age_s)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("iat"), float):
        return None
    return data["u"], data["iat"]


def restore(session: Session, token: str | None, key: str, max_age_s: int = MAX_AGE_S) -> tuple[str, str] | None:
    """(username, role) for a cookie that still stands: valid signature, not expired, active account,
    not revoked by a later sign-out. None otherwise."""
    if not token:
        return None
    claims = verify(token, key, max_age_s)
    if claims is None:
        return None
    name, issued = claims
    reviewer = session.scalars(select(Reviewer).where(func.lower(Reviewer.username) == normalise_username(name))
                               .order_by(Reviewer.id)).first()
    if reviewer is None or not reviewer.active or is_disabled(session, name):
        return None
    signed_out = session.scalar(select(func.max(AuditEvent.created_at))
                                .where(AuditEvent.action == SIGN_OUT, AuditEvent.actor == reviewer.username))
    if signed_out is not None:
        if signed_out.tzinfo is None:  # SQLite hands back naive UTC
            signed_out = signed_out.replace(tzinfo=dt.timezone.utc)
        if issued <= signed_out.timestamp():
            return None
    return reviewer.username, reviewer.role


def revoke(session: Session, username: str) -> None:
    """Sign-out: every token of `username` issued until now stops working (audited)."""
    audit(session, username, SIGN_OUT, channel="dashboard")


def set_cookie_script(token: str, max_age_s: int = MAX_AGE_S) -> str:
    """JavaScript for a zero-height component that stores the token on the app's origin."""
    value = json.dumps(f"{COOKIE}={token}; Max-Age={max_age_s}; Path=/; SameSite=Strict")
    return (f"<script>const c = {value} + (window.parent.location.protocol === 'https:' ? '; Secure' : '');"
            "window.parent.document.cookie = c;</script>")


def clear_cookie_script() -> str:
    """JavaScript that deletes the cookie (sign-out)."""
    return (f"<script>window.parent.document.cookie = '{COOKIE}=; Max-Age=0; Path=/; SameSite=Strict';</script>")
