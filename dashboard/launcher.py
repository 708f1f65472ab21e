"""Start scoring jobs from the dashboard and follow them.

A job is `python -m voxguard score SOURCE --out DEST --model M --job-id ID`:
a detached local subprocess (its log under the data dir), or a Ray Jobs
submission when a cluster dashboard address is configured. Each launch is
remembered as a small JSON record under `<data_dir>/dashboard-jobs/` so the
jobs page can show state, progress and logs after a dashboard restart.

Authorisation is enforced here, not only in the page: the actor must be an
active operator or admin in the feedback database, the source must lie under
the configured source roots and the destination under the output roots
(`voxguard.roots`). The job itself gets the source roots in its environment,
so objects a manifest or a symlink points outside them become error rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxguard.errors import AlreadyExists, InputError
from voxguard.roots import AccessDenied, resolve_within

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

_PROGRESS = re.compile(r"\[score\] (\d+)/(\d+) clips")
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
UNKNOWN_EXIT = -999  # the process ended but was not our child, so its exit code is lost


@dataclass
class Launch:
    """One scoring job started from the dashboard."""

    job_id: str
    source: str
    dest: str
    model: str
    launched_by: str
    launched_at: str
    command: list[str]
    how: str  # "local" or "cluster"
    pid: int | None = None
    log_path: str | None = None
    submission_id: str | None = None
    address: str | None = None
    returncode: int | None = None
    source_roots: str | None = None  # VOXGUARD_SOURCE_ROOTS the job ran with (its objects are confined to them)


def launches_dir(data_dir: Path) -> Path:
    """Where launch records live."""
    return Path(data_dir) / "dashboard-jobs"


def cluster_address(ray_address: str, data_dir: str | Path | None = None) -> str | None:
    """The Ray Jobs API address to submit to, if a cluster is configured (else jobs run locally).

    The same rule as `voxguard submit` and the scheduler (`cluster.submit.jobs_url_for_ray_address`):
    an http(s) URL is the Jobs API, a GCS `host:port` or `ray://host:port` that host's dashboard
    (the port `voxguard cluster up` recorded under `data_dir`, else 8265). Without a Ray address,
    Ray's own `RAY_API_SERVER_ADDRESS`, if set.
    """
    if ray_address:
        from cluster.submit import jobs_url_for_ray_address

        return jobs_url_for_ray_address(ray_address, data_dir)
    return os.environ.get("RAY_API_SERVER_ADDRESS") or None


def score_args(source: str, dest: str, model: str, job_id: str) -> list[str]:
    """Arguments of `voxguard score` for a dashboard launch."""
    return [source, "--out", dest, "--model", model, "--job-id", job_id]


def launch_scoring(
    source: str, dest: str, model: str, job_id: str, *, db_url: str, sessions: sessionmaker[Session],
    data_dir: Path, actor: str, source_roots: Sequence[str], output_roots: Sequence[str],
    address: str | None = None,
) -> Launch:
    """Start a scoring job (cluster when `address` is given, else a background process).

    `db_url` is the database the job writes to; `sessions`, the dashboard's session
    factory on it (its one engine), checks the actor's role.
    `source_roots` / `output_roots`: where the job may read and write (the dashboard's
    settings, `allowed_source_roots()` / `allowed_output_roots()`). Raises `AccessDenied`
    when `actor` may not run jobs or a path is outside them.
    """
    if not _JOB_ID.match(job_id):
        raise InputError("job id: letters, digits, '.', '_' and '-' only (it names files)")
    if not source.strip() or not dest.strip() or not model.strip():
        raise InputError("source, destination and model are all required")
    _check_operator(sessions, actor)
    source_roots = list(source_roots)
    source = resolve_within(source, source_roots, "source")
    dest = resolve_within(dest, list(output_roots), "destination")
    job_env = {"VOXGUARD_DB_URL": db_url, "VOXGUARD_SOURCE_ROOTS": ":".join(source_roots)}
    folder = launches_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / f"{job_id}.json").exists():
        raise AlreadyExists(f"a job {job_id!r} was already launched (choose another job id)")
    args = score_args(source, dest, model, job_id)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    from cluster import submit

    if address:
        command = submit.job_command("score", args)
        sid = submit.submit("score", args, address, submission_id=f"score-{job_id}",
                            runtime_env={"env_vars": job_env})
        launch = Launch(job_id, source, dest, model, actor, now, command, "cluster", submission_id=sid,
                        address=address, source_roots=job_env["VOXGUARD_SOURCE_ROOTS"])
    else:
        log_path = folder / f"{job_id}.log"
        # Detached: the job survives a dashboard restart and is not killed by its Ctrl-C.
        proc = submit.start_local("score", args, job_env, log_path=log_path, detach=True)
        command = list(proc.args)  # type: ignore[arg-type] # the argument list it was started with
        launch = Launch(job_id, source, dest, model, actor, now, command, "local", pid=proc.pid,
                        log_path=str(log_path), source_roots=job_env["VOXGUARD_SOURCE_ROOTS"])
    _save(folder, launch)
    return launch


def _check_operator(sessions: sessionmaker[Session], actor: str) -> None:
    """Only an active operator/admin account may run jobs: they read and write as the server's user."""
    from feedback.db import session_scope
    from feedback.reviewers import may_run_jobs

    with session_scope(sessions) as session:
        allowed = may_run_jobs(session, actor)
    if not allowed:
        raise AccessDenied(f"{actor!r} may not run scoring jobs (operator or admin role needed)")


def list_launches(data_dir: Path) -> list[Launch]:
    """Launch records, newest first."""
    folder = launches_dir(data_dir)
    records = [Launch(**json.loads(p.read_text())) for p in folder.glob("*.json")] if folder.exists() else []
    return sorted(records, key=lambda r: r.launched_at, reverse=True)


def state_of(launch: Launch, data_dir: Path) -> str:
    """running / succeeded / failed (exit code) / unknown, for local and cluster jobs."""
    if launch.how == "cluster":
        try:
            from cluster import jobs_api

            return jobs_api.job_status(launch.submission_id or "", launch.address).lower()
        except Exception as exc:  # cluster unreachable: say so rather than break the page
            return f"unknown ({type(exc).__name__})"
    if launch.returncode is None and launch.pid:
        launch.returncode = _poll(launch.pid)
        if launch.returncode is not None:
            _save(launches_dir(data_dir), launch)
    if launch.returncode is None:
        return "running"
    if launch.returncode == UNKNOWN_EXIT:
        return "ended"
    return "succeeded" if launch.returncode == 0 else f"failed (exit {launch.returncode})"


def log_tail(launch: Launch, max_chars: int = 4000) -> str:
    """The end of the job's log."""
    if launch.how == "cluster":
        try:
            from cluster import jobs_api

            return jobs_api.job_logs(launch.submission_id or "", launch.address)[-max_chars:]
        except Exception as exc:
            return f"(log unavailable: {exc})"
    try:
        with open(launch.log_path or "", "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_chars))
            return handle.read().decode(errors="replace")
    except OSError as exc:
        return f"(log unavailable: {exc})"


def progress_of(log: str) -> tuple[int, int] | None:
    """(done, total) from the last `[score] done/total clips` progress line, if any."""
    found = _PROGRESS.findall(log)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def _poll(pid: int) -> int | None:
    """Exit code if the process ended, None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)  # our own child: reap it, get its code
        if done == 0:
            return None
        return os.waitstatus_to_exitcode(status)
    except ChildProcessError:  # started by an earlier dashboard process: only liveness is known
        try:
            os.kill(pid, 0)
            return None
        except ProcessLookupError:
            return UNKNOWN_EXIT
        except PermissionError:
            return None


def _save(folder: Path, launch: Launch) -> None:
    tmp = folder / f".{launch.job_id}.json.tmp"
    tmp.write_text(json.dumps(asdict(launch), indent=1))
    tmp.replace(folder / f"{launch.job_id}.json")
