"""Who is using the dashboard: OIDC (`st.login`) when configured, else local accounts.

With an `[auth]` section in `.streamlit/secrets.toml`, Streamlit's built-in OIDC
flow signs people in and the reviewer name is their e-mail (a Reviewer row
with that username, if any, gives the role). Without it, people sign in with a
reviewer account from the feedback database (bcrypt hashes, `feedback.reviewers`).
Either way, nothing but the sign-in page is rendered until someone is signed in,
and an account disabled in the feedback database is shut out on its next page load.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import streamlit as st
import streamlit.components.v1 as components

from dashboard import session_cookie
from dashboard.context import db, secret, settings
from dashboard.safe import md
from feedback.models import OPERATOR_ROLES
from feedback.reviewers import is_disabled, normalise_username, roles_of
from feedback.signin import sign_in

MANAGER_ROLES = ("lead", "admin")
_SESSION_KEY = "user"
_NOTICE_KEY = "auth_notice"
_COOKIE_PENDING, _COOKIE_CLEAR = "auth_cookie_pending", "auth_cookie_clear"
_DISABLED = "This account is disabled. Ask an admin to re-enable it."


@dataclass(frozen=True)
class User:
    """The signed-in person: the name that verdicts and audit events record, and their role."""

    username: str
    role: str
    via: str  # "local" or "oidc"

    @property
    def can_manage(self) -> bool:
        """Leads and admins may promote models, edit the policy and request retraining."""
        return self.role in MANAGER_ROLES

    @property
    def can_run_jobs(self) -> bool:
        """Operators and admins may start scoring jobs (the launcher checks again against the database)."""
        return self.role in OPERATOR_ROLES


def oidc_providers() -> list[str] | None:
    """None without OIDC; [] for a single unnamed provider; else the named providers."""
    auth = secret("auth")
    if not auth:
        return None
    named = [k for k, v in auth.items() if isinstance(v, Mapping)]
    return [] if "client_id" in auth or not named else named


def current_user() -> User | None:
    """The signed-in user, or None."""
    if oidc_providers() is not None:
        if not st.user.is_logged_in:
            return None
        name = normalise_username(str(st.user.get("email") or st.user.get("preferred_username")
                                      or st.user.get("sub") or ""))
        if not name:
            return None
        with db() as session:
            if is_disabled(session, name):
                st.session_state[_NOTICE_KEY] = _DISABLED
                return None
            role = roles_of(session, {name}).get(name, "reviewer")
        return User(username=name, role=role, via="oidc")
    data = st.session_state.get(_SESSION_KEY)
    if not isinstance(data, dict):
        data = _from_cookie()  # a reload: the signed session cookie, if it still stands
        if data is None:
            return None
        st.session_state[_SESSION_KEY] = data
    with db() as session:  # re-checked on every run: disabling takes effect on the next click
        disabled = is_disabled(session, data["username"])
    if disabled:
        st.session_state.pop(_SESSION_KEY, None)
        st.session_state[_NOTICE_KEY] = _DISABLED
        return None
    return User(**data)


def sign_in_page() -> None:
    """The only page an anonymous visitor gets."""
    st.title("voxguard review")
    if st.session_state.pop(_COOKIE_CLEAR, False):
        components.html(session_cookie.clear_cookie_script(), height=0)
    if notice := st.session_state.pop(_NOTICE_KEY, None):
        st.error(notice)
    providers = oidc_providers()
    if providers is not None and st.user.is_logged_in:  # signed in with the provider, but disabled here
        if st.button("Sign out", key="oidc_sign_out"):
            st.logout()
        return
    if providers is not None:
        st.write("Sign in with your organisation account to review clips.")
        for provider in providers or [None]:
            label = f"Sign in with {provider}" if provider else "Sign in"
            if st.button(label, key=f"login_{provider}", type="primary"):
                st.login(provider) if provider else st.login()
        return
    with st.form("sign_in"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user, message = _local_sign_in(username, password)
        if user is None:
            st.error(md(message[:1].upper() + message[1:] + "."))
        else:
            st.session_state[_SESSION_KEY] = asdict(user)
            # Written into the browser by the next run (`persist_session`): survives a reload.
            st.session_state[_COOKIE_PENDING] = session_cookie.issue(user.username, _cookie_key())
            st.rerun()


def _local_sign_in(username: str, password: str) -> tuple[User | None, str]:
    """The user, or None and why (locked accounts and wrong passwords counted in `feedback.signin`)."""
    with db() as session:
        outcome = sign_in(session, username, password, channel="dashboard", client=_client())
        user = (User(username=outcome.reviewer.username, role=outcome.reviewer.role, via="local")
                if outcome.reviewer else None)
    if user is None:
        time.sleep(0.5)  # slows password guessing a little without annoying people
    return user, outcome.message


def _client() -> str:
    """Where the attempt comes from, for the per-client backoff: the browser's address as Streamlit sees it.

    Streamlit gives None for localhost (and no string in AppTest); all local browsers then share one backoff.
    """
    ip = st.context.ip_address
    return f"ip:{ip if isinstance(ip, str) and ip else 'local'}"


def sign_out(user: User) -> None:
    """End the session (OIDC logout or forget the local sign-in)."""
    if user.via == "oidc":
        st.logout()
        return
    with db() as session:
        session_cookie.revoke(session, user.username)  # the cookie stops working everywhere, copied or not
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state[_COOKIE_CLEAR] = True
    st.rerun()


def persist_session() -> None:
    """After a local sign-in: store the signed session cookie in the browser (zero-height component)."""
    if token := st.session_state.pop(_COOKIE_PENDING, None):
        components.html(session_cookie.set_cookie_script(token), height=0)


def _cookie_key() -> str:
    cfg = settings()
    return session_cookie.secret_key(cfg.session_secret or str(secret("session_secret", "") or ""), cfg.data_dir)


def _from_cookie() -> dict[str, str] | None:
    token = st.context.cookies.get(session_cookie.COOKIE) if hasattr(st.context.cookies, "get") else None
    if not isinstance(token, str):
        return None
    with db() as session:
        restored = session_cookie.restore(session, token, _cookie_key())
    if restored is None:
        return None
    return asdict(User(username=restored[0], role=restored[1], via="local"))
