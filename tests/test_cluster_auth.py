"""Ray token auth for the local head: a token must exist before `ray start`."""

from __future__ import annotations

import os
from pathlib import Path

from cluster.auth import ensure_token, head_auth_env, token_available
from cluster.head import _ray_executable


def test_token_lookup_follows_rays_order(tmp_path: Path) -> None:
    assert token_available({"RAY_AUTH_TOKEN": "abc", "HOME": str(tmp_path)})
    assert not token_available({"HOME": str(tmp_path)})
    custom = tmp_path / "tok"
    custom.write_text("x" * 32)
    assert token_available({"RAY_AUTH_TOKEN_PATH": str(custom), "HOME": "/nonexistent"})


def test_ensure_token_creates_one_only_in_token_mode(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    ensure_token(_ray_executable(), {**env, "RAY_AUTH_MODE": "disabled"})
    assert not (tmp_path / ".ray" / "auth_token").exists()
    ensure_token(_ray_executable(), {**env, "RAY_AUTH_MODE": "token"})
    token = (tmp_path / ".ray" / "auth_token").read_text().strip()
    assert len(token) >= 16
    ensure_token(_ray_executable(), {**env, "RAY_AUTH_MODE": "token"})  # kept, not replaced
    assert (tmp_path / ".ray" / "auth_token").read_text().strip() == token


def test_head_uses_token_mode_unless_told_otherwise(monkeypatch) -> None:
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert head_auth_env() == {"RAY_AUTH_MODE": "token"}
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert head_auth_env() == {"RAY_AUTH_MODE": "disabled"}
