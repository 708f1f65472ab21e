"""Launching voxguard jobs: to a Ray cluster through the Jobs API, or as a local process.

A job is `python -m voxguard <kind> ARGS...` run by the cluster on its head node,
with this checkout as working_dir (see `cluster.runtime_env`). The driver then
calls `cluster.local.init_ray()`, which joins the cluster through the
`RAY_ADDRESS` Ray sets for it, so score/train/retrain need no cluster-specific code.

The one launcher for the CLI (`voxguard submit`), the dashboard's Jobs page and the
retraining scheduler: `submit` when a cluster is configured (`jobs_url_for_ray_address`
is the one rule from a Ray address to its Jobs API), `start_local` otherwise.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from voxguard.errors import ClusterError, InputError

KINDS: tuple[str, ...] = ("score", "train", "retrain")
DEFAULT_DASHBOARD = "http://127.0.0.1:8265"


def resolve_dashboard_address(address: str | None = None, data_dir: str | Path | None = None) -> str:
    """The Jobs API URL to talk to.

    Order: explicit address, `RAY_API_SERVER_ADDRESS` (Ray's own variable for the
    jobs CLI), the head `voxguard cluster up` recorded under `data_dir` (the command's
    settings; not looked for without it), `RAY_ADDRESS` when it is an http(s) URL,
    then http://127.0.0.1:8265. A bare host:port gets http://.
    """
    candidate = address or os.environ.get("RAY_API_SERVER_ADDRESS", "")
    if not candidate and data_dir is not None:
        from cluster.head import _pid_alive, read_state

        state = read_state(data_dir)
        if state is not None and _pid_alive(state.pid):
            candidate = state.dashboard_url
    if not candidate:
        env = os.environ.get("RAY_ADDRESS", "")
        candidate = env if env.startswith(("http://", "https://")) else DEFAULT_DASHBOARD
    if "://" not in candidate:
        candidate = f"http://{candidate}"
    return candidate.rstrip("/")


def jobs_url_for_ray_address(ray_address: str, data_dir: str | Path | None = None) -> str:
    """The Jobs API URL of the cluster a Ray address (`VOXGUARD_RAY_ADDRESS`) names.

    The one place that maps the forms users set: an http(s) URL is the Jobs API
    itself; `ray://host:port` or a GCS `host:port` means that host's dashboard on
    8265, except for the head `voxguard cluster up` recorded under `data_dir` (the
    command's settings), whose dashboard may sit on another port (read from its state file).
    """
    if ray_address.startswith(("http://", "https://")):
        return ray_address.rstrip("/")
    bare = ray_address.removeprefix("ray://")
    from cluster.head import _pid_alive, read_state

    state = read_state(data_dir) if data_dir is not None else None
    if state is not None and state.gcs_address == bare and _pid_alive(state.pid):
        return state.dashboard_url
    return f"http://{bare.split(':')[0]}:8265"


def client(address: str | None = None):  # type: ignore[no-untyped-def]
    """A `JobSubmissionClient` for the resolved address (checks the server answers)."""
    from ray.job_submission import JobSubmissionClient

    from cluster.auth import enable_token_auth_if_available

    # Without this the client sends no token and a token-auth cluster answers 401.
    enable_token_auth_if_available()
    url = resolve_dashboard_address(address)
    try:
        return JobSubmissionClient(url)
    except ConnectionError as error:  # the constructor asks the server for its version
        raise ClusterError(
            f"no Ray Jobs API answers at {url} (start one with `voxguard cluster up`, or pass --address)"
        ) from error


def job_command(kind: str, args: Sequence[str], python: str = "python") -> list[str]:
    """`python -m voxguard <kind> ARGS...` as an argument list (`kind`: one of `KINDS`)."""
    if kind not in KINDS:
        raise InputError(f"unknown job kind {kind!r}; expected one of {', '.join(KINDS)}")
    return [python, "-m", "voxguard", kind, *args]


def job_entrypoint(kind: str, args: Sequence[str]) -> str:
    """The shell command a `kind` job runs on the cluster."""
    return shlex.join(job_command(kind, args))


def start_local(
    kind: str,
    args: Sequence[str],
    env_vars: Mapping[str, str] | None = None,
    *,
    log_path: str | Path | None = None,
    detach: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a `kind` job as a child process of this one, with this interpreter: the local `submit`.

    `env_vars` are added to this process's environment (the database URL, source roots).
    `log_path`: append stdout and stderr there (the dashboard shows its tail); None keeps the
    caller's. `detach` gives the job its own session, so it outlives the caller and is not
    stopped by its Ctrl-C; a caller that waits for the job (`scheduler --once`) passes False.
    """
    command = job_command(kind, args, python=sys.executable)
    env = {**os.environ, **dict(env_vars or {})}
    if log_path is None:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=detach, env=env)
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=detach, env=env)


def submit_entrypoint(
    entrypoint: str,
    address: str | None = None,
    runtime_env: Mapping[str, object] | None = None,
    *,
    submission_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    entrypoint_num_cpus: float | None = None,
    entrypoint_num_gpus: float | None = None,
) -> str:
    """Submit any shell entrypoint; returns the submission id.

    `runtime_env` None ships this checkout (`build_runtime_env()`); pass {} to
    run against whatever the cluster has installed.
    """
    from cluster.runtime_env import build_runtime_env  # packaging/metadata: not needed to build the CLI

    env = build_runtime_env() if runtime_env is None else dict(runtime_env)
    return client(address).submit_job(
        entrypoint=entrypoint,
        runtime_env=env or None,
        submission_id=submission_id,
        metadata=dict(metadata or {}),
        entrypoint_num_cpus=entrypoint_num_cpus,
        entrypoint_num_gpus=entrypoint_num_gpus,
    )


def submit(
    kind: str,
    args: Sequence[str],
    address: str | None = None,
    runtime_env: Mapping[str, object] | None = None,
    **options: object,
) -> str:
    """Submit a score/train/retrain job; returns the submission id.

    `options` go to `submit_entrypoint` (submission_id, entrypoint_num_gpus, ...).
    The driver itself needs no GPU: Ray Data actors and Ray Train workers request
    their own, so the default is to reserve nothing for the entrypoint.
    """
    metadata = {"voxguard_kind": kind, **dict(options.pop("metadata", None) or {})}  # type: ignore[arg-type]
    return submit_entrypoint(
        job_entrypoint(kind, args), address, runtime_env, metadata=metadata, **options  # type: ignore[arg-type]
    )
