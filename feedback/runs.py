"""Retraining-run records and the run's hold on the "retrain" lease.

The scheduler creates a run (status pending) and hands it the lease; the
retraining job then calls `start_run`, `heartbeat` now and then (the lease
expires after `RUN_TTL_S` without one, which is how a crashed job is detected),
and `finish_run`, which records the outcome and frees the lease.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback import lease
from feedback.audit import audit
from feedback.models import (
    RUN_FAILED,
    RUN_PENDING,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    RetrainRun,
    utcnow,
)
from voxguard.errors import NotFound

RETRAIN_LEASE = "retrain"
RUN_TTL_S = 2 * 3600.0


def run_holder(run_id: int) -> str:
    """Lease holder name of a retraining run."""
    return f"retrain-run:{run_id}"


def get_run(session: Session, run_id: int) -> RetrainRun:
    """A run by id (`NotFound` if missing: one line in the CLI, still a `LookupError` for old callers)."""
    run = session.get(RetrainRun, run_id)
    if run is None:
        raise NotFound(f"no retraining run {run_id} (`voxguard policy runs` lists them)")
    return run


def list_runs(session: Session, limit: int = 20) -> list[RetrainRun]:
    """Most recent runs first."""
    return list(session.scalars(select(RetrainRun).order_by(RetrainRun.id.desc()).limit(limit)))


def start_run(session: Session, run_id: int, now: dt.datetime | None = None) -> RetrainRun:
    """Mark a run running (called by the retraining job) and refresh its lease."""
    now = now or utcnow()
    run = get_run(session, run_id)
    if run.status not in (RUN_PENDING, RUN_RUNNING):
        raise RuntimeError(f"run {run_id} is {run.status}, not pending")
    run.status, run.started_at = RUN_RUNNING, run.started_at or now
    lease.renew(session, RETRAIN_LEASE, run_holder(run_id), RUN_TTL_S, now)
    audit(session, "retrain", "retrain.start", now=now, run_id=run_id)
    return run


def heartbeat(session: Session, run_id: int, ttl_s: float = RUN_TTL_S, now: dt.datetime | None = None) -> bool:
    """Keep the run's lease alive; False means it was lost (another run may start)."""
    return lease.renew(session, RETRAIN_LEASE, run_holder(run_id), ttl_s, now)


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    *,
    metrics: dict[str, Any] | None = None,
    gate: dict[str, Any] | None = None,
    champion: str | None = None,
    challenger: str | None = None,
    error: str | None = None,
    now: dt.datetime | None = None,
) -> RetrainRun:
    """Record a run's outcome (succeeded: the job completed, whatever the gate said) and free the lease."""
    if status not in (RUN_SUCCEEDED, RUN_FAILED):
        raise ValueError(f"status must be {RUN_SUCCEEDED} or {RUN_FAILED}")
    now = now or utcnow()
    run = get_run(session, run_id)
    run.status, run.finished_at, run.error = status, now, error
    run.started_at = run.started_at or now
    if metrics is not None:
        run.metrics = metrics
    if gate is not None:
        run.gate = gate
    run.champion_version = champion or run.champion_version
    run.challenger_version = challenger or run.challenger_version
    lease.release(session, RETRAIN_LEASE, run_holder(run_id))
    audit(session, "retrain", "retrain.finish", now=now, run_id=run_id, status=status,
          gate=gate, champion=champion, challenger=challenger, error=error)
    return run


def describe_run(run: RetrainRun) -> str:
    """A run in words, for the CLI: what happened and why (the gate's reason, or the error)."""
    head = f"run {run.id} ({run.trigger}, requested by {run.requested_by or '?'}): {run.status}"
    when = run.finished_at or run.started_at or run.created_at
    head += f" at {when:%Y-%m-%d %H:%M} UTC" if when else ""
    if run.status == RUN_FAILED:
        return f"{head}\n  error: {run.error or 'unknown'}"
    if run.status != RUN_SUCCEEDED:
        return head
    gate = run.gate or {}
    if gate.get("promote"):
        verdict = f"promoted {run.challenger_version} (was {run.champion_version})"
    else:
        verdict = f"kept {run.champion_version}; challenger {run.challenger_version} stays a candidate"
    lines = [head, f"  {verdict}", f"  why: {gate.get('reason', 'no gate decision recorded')}"]
    if "champion_gate_eer" in gate:
        lines.append(f"  gate set ({gate.get('n_gate')} clips): EER {100 * gate['champion_gate_eer']:.1f} % → "
                     f"{100 * gate['challenger_gate_eer']:.1f} %; held-back feedback ({gate.get('n_heldback')} clips): "
                     f"{gate.get('champion_heldback_correct')} → {gate.get('challenger_heldback_correct')} correct")
    base = (run.metrics or {}).get("base_data")
    if base:
        lines.append(f"  base data: {base}")
    return "\n".join(lines)


def run_record(run: RetrainRun) -> dict[str, Any]:
    """A run as JSON-able data (`voxguard retrain --json`)."""
    gate = run.gate or {}
    return {"run_id": run.id, "status": run.status, "trigger": run.trigger, "champion": run.champion_version,
            "challenger": run.challenger_version, "promoted": bool(gate.get("promote")),
            "reason": gate.get("reason"), "gate": gate, "metrics": run.metrics or {}, "error": run.error}
