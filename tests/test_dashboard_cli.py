"""`voxguard dashboard` builds a local-only `streamlit run` command by default."""

from __future__ import annotations

import argparse
from pathlib import Path

from voxguard.commands import dashboard
from voxguard.commands.dashboard import streamlit_command


def build_parser() -> argparse.ArgumentParser:
    # Only this command's parser: the full CLI imports every command module (slow, and not under test here).
    parser = argparse.ArgumentParser(prog="voxguard")
    dashboard.register(parser.add_subparsers(dest="command"))
    return parser


def _option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_defaults_listen_on_localhost_only():
    args = build_parser().parse_args(["dashboard"])
    cmd = streamlit_command(args)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and Path(cmd[4]).name == "app.py" and Path(cmd[4]).is_file()
    assert _option(cmd, "--server.address") == "127.0.0.1"
    assert _option(cmd, "--server.port") == "8501"
    assert _option(cmd, "--server.headless") == "true"
    assert _option(cmd, "--client.showErrorDetails") == "none"  # no tracebacks with server paths for users
    assert "--secrets.files" not in cmd


def test_port_address_and_secrets_are_passed_through(tmp_path):
    secrets = tmp_path / "secrets.toml"
    args = build_parser().parse_args(["dashboard", "--port", "9000", "--address", "0.0.0.0", "--secrets", str(secrets)])
    cmd = streamlit_command(args)
    assert _option(cmd, "--server.port") == "9000" and _option(cmd, "--server.address") == "0.0.0.0"
    assert _option(cmd, "--secrets.files") == str(secrets.resolve())


def test_the_dashboard_lists_the_bundled_model_in_an_empty_registry(tmp_path):
    from feedback.db import session_factory, upgrade
    from feedback.registry import list_versions
    from voxguard.commands.dashboard import bootstrap_registry
    from voxguard.settings import Settings

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    model = Settings.from_env().model_path
    version = bootstrap_registry(url, model)
    assert version
    factory = session_factory(url)
    with factory() as s:
        (mv,) = list_versions(s)
        assert (mv.version, mv.status, mv.artefact_uri) == (version, "production", str(model))
        assert {"dev", "test", "devset"} <= set(mv.metrics) and mv.metrics["training_history"][0]["epoch"] == 0
    factory.kw["bind"].dispose()
    assert bootstrap_registry(url, model) is None  # only into an empty registry
