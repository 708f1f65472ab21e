"""Alerts: webhooks configured by URL, the events that fire them, and the delivery log.

Events (`feedback.models.ALERT_EVENTS`):
  * `score.finished`  - a scoring job ended: counts, flagged, errors;
  * `spoof.found`     - that job labelled clips spoof with P(spoof) >= the hook's `spoof_confidence`;
  * `queue.backlog`   - more than `backlog_clips` open review items, or the oldest is older than
                        `backlog_hours`; checked after each scoring job and scheduler tick, sent at most
                        once per `backlog_hours` per hook;
  * `retrain.finished`- a retraining ended: promoted or kept, and the gate's reason;
  * `retrain.failed`  - a retraining run failed (launch, job error, or its job died).

Every send is a row in `alert_deliveries`. Alerts never fail the job that raises
them: a receiver that is down costs a logged warning and a `failed` row.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from feedback import webhook
from feedback.audit import audit
from feedback.db import session_scope
from feedback.models import (
    ALERT_EVENTS,
    ITEM_OPEN,
    AlertDelivery,
    AlertHook,
    Clip,
    ReviewItem,
    Score,
    ScoringJob,
    utcnow,
)
from voxguard.errors import InputError, NotFound

log = logging.getLogger(__name__)

DEFAULT_OPTIONS: dict[str, float] = {"spoof_confidence": 0.9, "backlog_clips": 500, "backlog_hours": 24.0}
MAX_CLIPS_LISTED = 10


@dataclass(frozen=True)
class SendPolicy:
    """Retry settings of every POST (tests shorten the backoff)."""

    retries: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 5.0


# --------------------------------------------------------------------------- hooks
def add_hook(session: Session, url: str, events: list[str] | None = None, secret: str | None = None,
             options: dict[str, float] | None = None, actor: str = "admin") -> AlertHook:
    """Register a webhook (all events unless `events`); a secret is generated when none is given."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"alert URL must be http:// or https:// with a host, not {url!r}")
    chosen = list(dict.fromkeys(events or ALERT_EVENTS))
    unknown = sorted(set(chosen) - set(ALERT_EVENTS))
    if unknown:
        raise InputError(f"unknown alert events {unknown}; choose from {', '.join(ALERT_EVENTS)}")
    merged = {**DEFAULT_OPTIONS, **{k: v for k, v in (options or {}).items() if v is not None}}
    if not 0.5 <= merged["spoof_confidence"] <= 1.0:
        raise InputError("spoof confidence must be between 0.5 and 1")
    if merged["backlog_clips"] < 1 or merged["backlog_hours"] <= 0:
        raise InputError("backlog clips must be >= 1 and backlog hours > 0")
    hook = AlertHook(url=url, events=chosen, secret=secret or secrets.token_hex(32), options=merged,
                     created_by=actor, created_at=utcnow())
    session.add(hook)
    session.flush()
    audit(session, actor, "alerts.add", hook_id=hook.id, url=url, events=chosen)
    return hook


def list_hooks(session: Session) -> list[AlertHook]:
    return list(session.scalars(select(AlertHook).order_by(AlertHook.id)))


def get_hook(session: Session, hook_id: int) -> AlertHook:
    hook = session.get(AlertHook, hook_id)
    if hook is None:
        raise NotFound(f"no alert hook {hook_id} (`voxguard alerts list` shows them)")
    return hook


def remove_hook(session: Session, hook_id: int, actor: str = "admin") -> None:
    """Delete a hook; its delivery log rows stay (hook_id set to NULL)."""
    hook = get_hook(session, hook_id)
    session.delete(hook)
    audit(session, actor, "alerts.remove", hook_id=hook_id, url=hook.url)


def deliveries(session: Session, limit: int = 20) -> list[AlertDelivery]:
    return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- sending
def send(factory: sessionmaker[Session], hook_id: int, event: str, text: str, data: dict[str, Any],
         policy: SendPolicy = SendPolicy()) -> AlertDelivery:
    """POST one alert to one hook and log it (the HTTP call runs outside any DB transaction)."""
    with session_scope(factory) as session:
        hook = get_hook(session, hook_id)
        url, secret = hook.url, hook.secret
    payload = {"text": f"voxguard: {text}", "event": event, "data": data, "sent_at": utcnow().isoformat()}
    result = webhook.post(url, payload, secret, event, uuid.uuid4().hex, retries=policy.retries,
                          backoff_s=policy.backoff_s, timeout_s=policy.timeout_s)
    if not result.delivered:
        log.warning("alert %s to hook %s not delivered after %d attempt(s): %s", event, hook_id, result.attempts,
                    result.error)
    with session_scope(factory) as session:
        row = AlertDelivery(hook_id=hook_id, event=event, payload=payload,
                            status="delivered" if result.delivered else "failed", attempts=result.attempts,
                            http_status=result.http_status, error=result.error, created_at=utcnow())
        session.add(row)
    return row


def notify(factory: sessionmaker[Session], event: str, text: str, data: dict[str, Any],
           policy: SendPolicy = SendPolicy()) -> list[AlertDelivery]:
    """Send `event` to every active hook subscribed to it; never raises (alerts must not fail a job)."""
    try:
        with session_scope(factory) as session:
            hook_ids = [h.id for h in list_hooks(session) if h.active and event in h.events]
        return [send(factory, hook_id, event, text, data, policy) for hook_id in hook_ids]
    except Exception:  # a missing table (old schema), a DB hiccup: log it, keep the job's outcome
        log.exception("alerts for %s could not be sent", event)
        return []


# --------------------------------------------------------------------------- events
def scoring_finished(factory: sessionmaker[Session], summary: dict[str, Any],
                     policy: SendPolicy = SendPolicy()) -> None:
    """After a scoring job: `score.finished`, `spoof.found` (per hook threshold) and `queue.backlog`."""
    counts = {k: summary.get(k) for k in ("job_id", "model_version", "source", "dest", "rows", "scored",
                                          "flagged", "errors", "error_codes", "wall_s")}
    notify(factory, "score.finished",
           f"scoring job {summary.get('job_id')} finished: {summary.get('rows')} clips, "
           f"{summary.get('flagged')} flagged, {summary.get('errors')} errors", counts, policy)
    try:
        _spoofs_found(factory, str(summary.get("job_id")), policy)
    except Exception:
        log.exception("spoof alerts for job %s could not be sent", summary.get("job_id"))
    check_backlog(factory, policy=policy)


def _spoofs_found(factory: sessionmaker[Session], job_id: str, policy: SendPolicy) -> None:
    with session_scope(factory) as session:
        hooks = [(h.id, float(h.options.get("spoof_confidence", DEFAULT_OPTIONS["spoof_confidence"])))
                 for h in list_hooks(session) if h.active and "spoof.found" in h.events]
        if not hooks:
            return
        rows = session.execute(
            select(Score.prob_bonafide, Score.clip_id, Score.model_version)
            .join(ScoringJob, ScoringJob.id == Score.scoring_job_id)
            .where(ScoringJob.job_id == job_id, Score.label == "spoof", Score.error.is_(None),
                   Score.prob_bonafide.is_not(None))
            .order_by(Score.prob_bonafide)
        ).all()
        uris = dict(session.execute(select(Clip.id, Clip.uri).where(Clip.id.in_([r[1] for r in rows]))).all())
    for hook_id, threshold in hooks:
        hits = [{"uri": uris.get(clip_id), "p_spoof": round(1.0 - p, 4), "model_version": version}
                for p, clip_id, version in rows if 1.0 - p >= threshold]
        if hits:
            send(factory, hook_id, "spoof.found",
                 f"job {job_id}: {len(hits)} clip(s) labelled spoof with P(spoof) >= {threshold:g} "
                 f"(most confident: {hits[0]['uri']})",
                 {"job_id": job_id, "threshold": threshold, "count": len(hits), "clips": hits[:MAX_CLIPS_LISTED]},
                 policy)


def backlog(session: Session, now: dt.datetime | None = None) -> tuple[int, float | None]:
    """Open review items and the age in hours of the oldest one (None when the queue is empty)."""
    now = now or utcnow()
    count, oldest = session.execute(
        select(func.count(ReviewItem.id), func.min(ReviewItem.created_at)).where(ReviewItem.status == ITEM_OPEN)
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.timezone.utc)
    return int(count), None if oldest is None else (now - oldest).total_seconds() / 3600


def check_backlog(factory: sessionmaker[Session], now: dt.datetime | None = None,
                  policy: SendPolicy = SendPolicy()) -> None:
    """Send `queue.backlog` to hooks whose limits are exceeded, at most once per `backlog_hours` each."""
    now = now or utcnow()
    try:
        with session_scope(factory) as session:
            count, age = backlog(session, now)
            due = []
            for hook in list_hooks(session):
                if not hook.active or "queue.backlog" not in hook.events:
                    continue
                limit_n = int(hook.options.get("backlog_clips", DEFAULT_OPTIONS["backlog_clips"]))
                limit_h = float(hook.options.get("backlog_hours", DEFAULT_OPTIONS["backlog_hours"]))
                if count <= limit_n and (age is None or age <= limit_h):
                    continue
                last = session.scalar(select(func.max(AlertDelivery.created_at)).where(
                    AlertDelivery.hook_id == hook.id, AlertDelivery.event == "queue.backlog",
                    AlertDelivery.status == "delivered"))
                if last is not None and (now - last).total_seconds() < limit_h * 3600:
                    continue
                due.append((hook.id, limit_n, limit_h))
        for hook_id, limit_n, limit_h in due:
            age_text = "empty" if age is None else f"oldest {age:.1f} h old"
            send(factory, hook_id, "queue.backlog",
                 f"review queue backlog: {count} open clips ({age_text}); limits {limit_n} clips / {limit_h:g} h",
                 {"open_items": count, "oldest_hours": None if age is None else round(age, 2),
                  "limit_clips": limit_n, "limit_hours": limit_h}, policy)
    except Exception:
        log.exception("backlog alerts could not be checked")


def retrain_finished(factory: sessionmaker[Session], run_id: int, promoted: bool, champion: str, challenger: str,
                     reason: str, policy: SendPolicy = SendPolicy()) -> None:
    """`retrain.finished`: promoted or kept, and why."""
    verdict = f"promoted {challenger}" if promoted else f"kept {champion} (challenger {challenger} not promoted)"
    notify(factory, "retrain.finished", f"retraining run {run_id} finished: {verdict}; {reason}",
           {"run_id": run_id, "promoted": promoted, "champion": champion, "challenger": challenger,
            "reason": reason}, policy)


def retrain_failed(factory: sessionmaker[Session], run_id: int, error: str, retry_rule: str,
                   policy: SendPolicy = SendPolicy()) -> None:
    """`retrain.failed`: the error and what happens next."""
    notify(factory, "retrain.failed", f"retraining run {run_id} failed: {error} ({retry_rule})",
           {"run_id": run_id, "error": error, "retry_rule": retry_rule}, policy)
