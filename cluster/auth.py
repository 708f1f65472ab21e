"""Ray's token authentication, seen from our HTTP clients.

Since Ray 2.5x a local cluster enables token auth as soon as a token exists
(~/.ray/auth_token, created by the first local `ray.init()`), and its dashboard
then answers 401 to requests without `Authorization: Bearer <token>`. Ray's own
drivers pick the token up when they connect; a process that only talks HTTP to
the Jobs API (ours) must opt in the same way, which is what this module does.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

AUTH_MODE_ENV = "RAY_AUTH_MODE"


def enable_token_auth_if_available() -> bool:
    """Turn token auth on for this process when a token exists and no mode is set.

    Mirrors what `ray.init()` does when joining a cluster; returns whether token
    auth is on. Ray versions without token auth make this a no-op (False).
    """
    try:
        from ray._private.authentication import authentication_token_setup as setup
    except ImportError:
        return False
    # Ray logs a warning each time it enables the mode: noise in a CLI.
    log = logging.getLogger(setup.__name__)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return bool(setup.maybe_enable_token_auth_if_token_available(warn_if_disabled=False))
    finally:
        log.setLevel(level)


def auth_headers() -> dict[str, str]:
    """HTTP headers that authenticate to a token-protected Ray dashboard ({} if off)."""
    if not enable_token_auth_if_available():
        return {}
    from ray._private.authentication.http_token_authentication import (
        get_auth_headers_if_auth_enabled,
    )

    return dict(get_auth_headers_if_auth_enabled({}))


def head_auth_env() -> dict[str, str]:
    """Environment for a head we start: token auth on (Ray creates the token if
    missing), unless the user chose a mode explicitly."""
    return {AUTH_MODE_ENV: os.environ.get(AUTH_MODE_ENV, "token")}


def token_available(environ: dict[str, str] | None = None) -> bool:
    """Whether Ray would find a token: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."""
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN"):
        return True
    home = env.get("HOME") or str(Path.home())
    path = env.get("RAY_AUTH_TOKEN_PATH") or str(Path(home) / ".ray" / "auth_token")
    return Path(path).is_file()


def ensure_token(ray_executable: str, env: dict[str, str]) -> None:
    """Create ~/.ray/auth_token (Ray's public CLI) when token mode is on and none exists.

    `ray start` in token mode refuses to run without one, and our HTTP clients
    need the same token to talk to the head.
    """
    if env.get(AUTH_MODE_ENV, "").lower() != "token" or token_available(env):
        return
    # The CLI prints the token; keep it out of our output and logs.
    subprocess.run(
        [ray_executable, "get-auth-token", "--generate"],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def ray_cli_env_lines(dashboard_url: str, environ: dict[str, str] | None = None) -> list[str]:
    """What a user types so Ray's own CLI (`ray job submit`, `ray job list`) works against our head.

    Ray's CLI sends the token only when `RAY_AUTH_MODE=token` is set in its
    environment (otherwise: "AuthenticationError: Missing authentication token");
    it then reads the token from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
    ~/.ray/auth_token, the same places `token_available` looks. The address goes
    on the command line, not in RAY_ADDRESS: voxguard's own jobs read RAY_ADDRESS
    as a Ray (GCS) address and refuse a dashboard URL there.
    """
    env = os.environ if environ is None else environ
    mode = env.get(AUTH_MODE_ENV, "token").lower()
    if mode != "token":
        return [f"ray job list --address {dashboard_url}   (token auth is off: {AUTH_MODE_ENV}={mode})"]
    if env.get("RAY_AUTH_TOKEN"):
        source = "RAY_AUTH_TOKEN"
    else:
        home = env.get("HOME") or str(Path.home())
        source = env.get("RAY_AUTH_TOKEN_PATH") or str(Path(home) / ".ray" / "auth_token")
    return [
        f"export {AUTH_MODE_ENV}=token   # Ray's CLI then sends the token from {source}",
        f"ray job submit --address {dashboard_url} -- voxguard score examples/clips --out var/scores",
        f"ray job list --address {dashboard_url}",
    ]
