"""The Ray runtime environment a submitted job runs in.

Two things must hold on the cluster: the job runs *this* checkout's code, and it
runs it on the same library versions. The code travels as the job's
`working_dir` (uploaded by the Jobs API; `python -m voxguard` then imports it from
there). Versions either come from the cluster image (setup_commands or a
container image that installed voxguard) or, for bare clusters, from a `pip`
list pinned to what is installed here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from voxguard.locations import source_root

REPO_ROOT = source_root()  # the checkout a job ships as its working_dir

# Not code, or not ours: virtualenvs, local state, VCS, test output. models/ stays:
# the bundled default model is part of what the job needs.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "/.venv/",
    "/var/",
    "/.git/",
    "/tests/",
    "/test-artifacts/",
    "/build/",
    "/dist/",
    "/out/",
    "/.whl/",
    "/.gl/",
    "__pycache__/",
    "*.pyc",
    "*.egg-info/",
    ".pytest_cache/",
)

# Forwarded from the submitting shell so the job sees the same endpoints/settings.
# Credentials are deliberately not forwarded: they would be stored in the job's
# record and shown by the dashboard; clusters use instance roles (or --env).
PASSTHROUGH_PREFIXES: tuple[str, ...] = ("VOXGUARD_",)
PASSTHROUGH_NAMES: tuple[str, ...] = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
# The job's driver must join the cluster it runs on (Ray sets RAY_ADDRESS for it),
# not the address the laptop used to reach that cluster.
NEVER_FORWARDED: frozenset[str] = frozenset({"VOXGUARD_RAY_ADDRESS", "RAY_ADDRESS"})


def passthrough_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The submitting shell's variables that the job should see too."""
    environ = os.environ if environ is None else environ
    return {
        name: value
        for name, value in environ.items()
        if name not in NEVER_FORWARDED
        and (name.startswith(PASSTHROUGH_PREFIXES) or name in PASSTHROUGH_NAMES)
    }


def pinned_requirements(
    pyproject: Path = REPO_ROOT / "pyproject.toml", extras: Iterable[str] = ()
) -> list[str]:
    """The project's dependencies, each pinned to the version installed here.

    Extras and environment markers are kept; a dependency that is not installed
    keeps its range from pyproject. `extras` adds optional-dependency groups.
    """
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    specs = list(project.get("dependencies", []))
    for group in extras:
        specs.extend(project.get("optional-dependencies", {}).get(group, []))
    pinned = []
    for spec in specs:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            pinned.append(spec)
            continue
        # Drop local version labels (+cpu, +cu124): indexes do not serve them by name.
        version = re.sub(r"\+.*$", "", version)
        extra = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        pinned.append(f"{req.name}{extra}=={version}")
    return pinned


def build_runtime_env(
    *,
    source_dir: Path = REPO_ROOT,
    ship_code: bool = True,
    pip: bool = False,
    env_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
) -> dict[str, object]:
    """A runtime_env dict for `JobSubmissionClient.submit_job`.

    `ship_code` uploads `source_dir` as the working_dir; `pip` adds the pinned
    dependency list (slow on first use: Ray builds a virtualenv per node); explicit
    `env_vars` win over the ones forwarded from `environ`.
    """
    runtime_env: dict[str, object] = {}
    if ship_code:
        runtime_env["working_dir"] = str(Path(source_dir).resolve())
        runtime_env["excludes"] = list(excludes)
    if pip:
        pyproject = Path(source_dir) / "pyproject.toml"
        runtime_env["pip"] = {"packages": pinned_requirements(pyproject), "pip_check": False}
    merged = {**passthrough_env(environ), **dict(env_vars or {})}
    if merged:
        runtime_env["env_vars"] = merged
    return runtime_env
