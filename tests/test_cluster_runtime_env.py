"""The runtime env that makes a submitted job run this checkout on the same versions."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from cluster.runtime_env import build_runtime_env, passthrough_env, pinned_requirements
from cluster.submit import job_entrypoint, resolve_dashboard_address
from voxguard.settings import REPO_ROOT


def test_requirements_are_pinned_to_installed_versions(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\nversion = "0"\n'
        'dependencies = ["pyarrow>=15", "ray[data,train]>=2.50", "surely-not-installed-pkg>=1",'
        ' "pywin32>=1; sys_platform == \'win32\'"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8"]\n'
    )
    pins = pinned_requirements(pyproject, extras=["dev"])
    assert pins == [
        f"pyarrow=={metadata.version('pyarrow')}",
        f"ray[data,train]=={metadata.version('ray')}",
        "surely-not-installed-pkg>=1",  # unknown here: keep the range
        f"pytest=={metadata.version('pytest')}",
    ]


def test_project_requirements_all_pinned() -> None:
    pins = pinned_requirements()
    assert pins and all("==" in p for p in pins), pins
    assert not any("+" in p for p in pins)  # no local labels such as +cpu


def test_runtime_env_ships_code_and_forwards_settings_not_secrets() -> None:
    environ = {
        "VOXGUARD_S3_ENDPOINT": "http://127.0.0.1:9000",
        "VOXGUARD_RAY_ADDRESS": "10.0.0.1:6379",
        "RAY_ADDRESS": "http://laptop:8265",
        "AWS_REGION": "eu-west-1",
        "AWS_SECRET_ACCESS_KEY": "shh",
        "HOME": "/root",
    }
    assert passthrough_env(environ) == {
        "VOXGUARD_S3_ENDPOINT": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1",
    }
    env = build_runtime_env(environ=environ, env_vars={"AWS_REGION": "us-east-1", "X": "1"})
    assert env["working_dir"] == str(REPO_ROOT)
    assert "/.venv/" in env["excludes"] and "/var/" in env["excludes"]
    assert not any("models" in e for e in env["excludes"])  # the bundled model travels
    assert env["env_vars"] == {
        "VOXGUARD_S3_ENDPOINT": "http://127.0.0.1:9000", "AWS_REGION": "us-east-1", "X": "1",
    }
    bare = build_runtime_env(ship_code=False, pip=True, environ={})
    assert set(bare) == {"pip"} and "torch==" + metadata.version("torch").split("+")[0] in bare["pip"]["packages"]


def test_entrypoints_and_addresses(monkeypatch) -> None:
    assert job_entrypoint("score", ["s3://b/a b/", "--batch-size", "8"]) == (
        "python -m voxguard score 's3://b/a b/' --batch-size 8"
    )
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    assert resolve_dashboard_address("10.1.2.3:8265") == "http://10.1.2.3:8265"
    assert resolve_dashboard_address("https://ray.example/") == "https://ray.example"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "http://api:8265")
    assert resolve_dashboard_address(None) == "http://api:8265"
    with pytest.raises(ValueError, match="score"):
        job_entrypoint("delete-everything", [])
