"""Periodic retraining scheduler (APScheduler) guarded by the "retrain" DB lease.

Each tick: take the lease briefly (only one scheduler proceeds), mark runs whose
lease has lapsed as failed (their job died), ask the policy, and if retraining
is due create the run, hand the lease over to it and call `launch(run)`. The run
keeps the lease until `feedback.runs.finish_run`, so no second retraining can start
while one is active, whatever the number of schedulers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from feedback import alerts, lease
from feedback.audit import audit
from feedback.db import session_factory, session_scope
from feedback.models import RUN_FAILED, RUN_PENDING, RUN_RUNNING, RetrainRun, utcnow
from feedback.policy import RETRY_RULE, should_retrain
from feedback.runs import RETRAIN_LEASE, RUN_TTL_S, run_holder

log = logging.getLogger(__name__)

Launcher = Callable[[RetrainRun], None]
TICK_TTL_S = 120.0


def default_holder() -> str:
    """A unique name for this scheduler process."""
    return f"scheduler:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def tick(
    factory: sessionmaker[Session], launch: Launcher, holder: str, now: dt.datetime | None = None,
    run_ttl_s: float = RUN_TTL_S,
) -> RetrainRun | None:
    """One scheduling step; returns the launched run, or None."""
    now = now or utcnow()
    with session_scope(factory) as s:
        if not lease.acquire(s, RETRAIN_LEASE, holder, TICK_TTL_S, now):
            return None
    try:
        with session_scope(factory) as s:
            orphans = _fail_orphans(s, now)
            decision = should_retrain(s, now)
            run = None
            if decision.trigger is None:
                log.info("no retraining: %s", decision.reason)
                lease.release(s, RETRAIN_LEASE, holder)
            else:
                run = s.get(RetrainRun, decision.request_id) if decision.request_id else None
                if run is None:
                    run = RetrainRun(trigger=decision.trigger, created_at=now, requested_by=holder,
                                     status=RUN_PENDING)
                    s.add(run)
                run.status, run.reason, run.counts = RUN_PENDING, decision.reason, decision.counts
                s.flush()
                if not lease.transfer(s, RETRAIN_LEASE, holder, run_holder(run.id), run_ttl_s, now):
                    raise RuntimeError("lost the retrain lease mid-tick")
                audit(s, holder, "retrain.launch", now=now, run_id=run.id, trigger=decision.trigger,
                      reason=decision.reason, counts=decision.counts)
    except BaseException:
        with session_scope(factory) as s:
            lease.release(s, RETRAIN_LEASE, holder)
        raise
    for run_id in orphans:  # after the transaction: an HTTP call must not hold the database
        alerts.retrain_failed(factory, run_id, ORPHAN_ERROR, RETRY_RULE)
    if run is None:
        return None
    try:
        launch(run)
    except Exception as exc:  # the run never started: record it and free the lease for the next tick
        log.exception("launching run %s failed", run.id)
        with session_scope(factory) as s:
            failed = s.get(RetrainRun, run.id)
            assert failed is not None
            failed.status, failed.finished_at, failed.error = RUN_FAILED, utcnow(), f"launch failed: {exc}"
            lease.release(s, RETRAIN_LEASE, run_holder(run.id))
        alerts.retrain_failed(factory, run.id, f"launch failed: {exc}", RETRY_RULE)
    return run


ORPHAN_ERROR = "retrain lease expired (job died or stopped heart-beating)"


def _fail_orphans(session: Session, now: dt.datetime) -> list[int]:
    # We hold the lease, so no live run does: pending/running runs lost theirs (job died).
    failed = []
    for run in session.scalars(select(RetrainRun).where(RetrainRun.status.in_((RUN_PENDING, RUN_RUNNING)))):
        run.status, run.finished_at = RUN_FAILED, now
        run.error = ORPHAN_ERROR
        audit(session, "scheduler", "retrain.orphaned", now=now, run_id=run.id)
        failed.append(run.id)
    return failed


def subprocess_launcher(url: str, retrain_args: Sequence[str] = (), wait: bool = False) -> Launcher:
    """Launch `voxguard retrain --run-id ID [retrain_args]` as a local process.

    Detached by default (the periodic scheduler keeps ticking); `wait=True` blocks
    until it ends (`voxguard scheduler --once`, so the user sees the run through).
    Its output goes where the scheduler's does.
    """

    def launch(run: RetrainRun) -> None:
        from cluster.submit import start_local  # the one local launcher (the dashboard's too)

        process = start_local("retrain", ["--run-id", str(run.id), *retrain_args], {"VOXGUARD_DB_URL": url},
                              detach=not wait)
        if wait:
            process.wait()

    return launch


def ray_job_launcher(address: str, url: str, runtime_env: dict[str, object] | None = None,
                     retrain_args: Sequence[str] = (), data_dir: str | Path | None = None) -> Launcher:
    """Submit `voxguard retrain --run-id ID [retrain_args]` to the cluster a Ray address names.

    Goes through `cluster.submit`, the launcher `voxguard submit` uses, so token auth,
    the address rules and the forwarded VOXGUARD_* settings are the same for
    scheduled runs. `runtime_env` None runs the voxguard installed on the cluster
    (as before: a long-running scheduler should not upload whatever tree it was
    started from) with the database URL set. Paths in `retrain_args` (--manifest)
    are read on the cluster. `data_dir` (the command's settings) is where a head that
    `voxguard cluster up` started is recorded, to find its Jobs API port.
    """

    def launch(run: RetrainRun) -> None:
        from cluster.runtime_env import build_runtime_env
        from cluster.submit import jobs_url_for_ray_address, submit

        env = build_runtime_env(ship_code=False, env_vars={"VOXGUARD_DB_URL": url}) if runtime_env is None else runtime_env
        submit("retrain", ["--run-id", str(run.id), *retrain_args], jobs_url_for_ray_address(address, data_dir), env,
               submission_id=f"voxguard-retrain-{run.id}-{uuid.uuid4().hex[:6]}")

    return launch


def default_launcher(url: str, ray_address: str = "", retrain_args: Sequence[str] = (), wait: bool = False,
                     data_dir: str | Path | None = None) -> Launcher:
    """Ray Jobs when a cluster address is configured, else a local process (`wait`: block until it ends)."""
    if ray_address:
        return ray_job_launcher(ray_address, url, retrain_args=retrain_args, data_dir=data_dir)
    return subprocess_launcher(url, retrain_args, wait=wait)


def run_scheduler(
    url: str,
    interval_s: float,
    launch: Launcher | None = None,
    once: bool = False,
    holder: str | None = None,
) -> RetrainRun | None:
    """Check the policy every `interval_s` seconds (first check at once) until interrupted.

    With `once`, run a single tick and return its run (or None).
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    factory = session_factory(url)
    holder = holder or default_holder()
    launch = launch or default_launcher(url)
    if once:
        run = tick(factory, launch, holder)
        alerts.check_backlog(factory)
        return run

    def _safe_tick() -> None:
        try:
            tick(factory, launch, holder)
        except Exception:  # a DB hiccup must not kill the scheduler; next tick retries
            log.exception("scheduler tick failed")
        alerts.check_backlog(factory)  # the queue-backlog alert (never raises)

    scheduler = BlockingScheduler(timezone=dt.timezone.utc)
    scheduler.add_job(_safe_tick, IntervalTrigger(seconds=interval_s), next_run_time=dt.datetime.now(dt.timezone.utc),
                      max_instances=1, coalesce=True, misfire_grace_time=None)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return None
