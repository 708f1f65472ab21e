"""List, inspect, follow, wait for and stop jobs submitted to a Ray cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cluster.submit import client

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


def _info_dict(info) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "submission_id": info.submission_id,
        "status": str(getattr(info.status, "value", info.status)),
        "entrypoint": info.entrypoint,
        "message": info.message,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "metadata": dict(info.metadata or {}),
    }


def list_jobs(address: str | None = None) -> list[dict[str, object]]:
    """Every job the cluster knows, oldest first."""
    jobs = [_info_dict(j) for j in client(address).list_jobs() if j.submission_id]
    return sorted(jobs, key=lambda j: j["start_time"] or 0)


def job_info(submission_id: str, address: str | None = None) -> dict[str, object]:
    """Status, message and timings of one job."""
    return _info_dict(client(address).get_job_info(submission_id))


def job_status(submission_id: str, address: str | None = None) -> str:
    """PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED."""
    status = client(address).get_job_status(submission_id)
    return str(getattr(status, "value", status))


def job_logs(submission_id: str, address: str | None = None) -> str:
    """The driver's whole log so far."""
    return client(address).get_job_logs(submission_id)


def follow_logs(
    submission_id: str, write: Callable[[str], object], address: str | None = None
) -> None:
    """Stream the driver's log to `write` until the job ends."""

    async def _tail() -> None:
        async for chunk in client(address).tail_job_logs(submission_id):
            write(chunk)

    asyncio.run(_tail())


def stop_job(submission_id: str, address: str | None = None) -> bool:
    """Ask the cluster to stop a job; False if it had already finished."""
    return bool(client(address).stop_job(submission_id))


def wait_for_job(
    submission_id: str,
    address: str | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
) -> str:
    """Block until the job reaches a terminal status and return it.

    Raises TimeoutError (the job keeps running) after `timeout_s`.
    """
    jobs = client(address)
    deadline = time.monotonic() + timeout_s
    while True:
        status = jobs.get_job_status(submission_id)
        status = str(getattr(status, "value", status))
        if status in TERMINAL:
            return status
        if time.monotonic() >= deadline:
            raise TimeoutError(f"job {submission_id} still {status} after {timeout_s:.0f}s")
        time.sleep(poll_s)
