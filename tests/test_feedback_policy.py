"""Retraining policy triggers, the DB lease, and the scheduler (including two scheduler processes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedback_helpers import row, scored_items, verdict
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from feedback import lease
from feedback.db import make_engine, session_factory, session_scope
from feedback.models import RetrainRun, utcnow
from feedback.policy import get_policy, request_retrain, should_retrain, update_policy
from feedback.runs import RETRAIN_LEASE, finish_run, run_holder, start_run
from feedback.scheduler import run_scheduler, tick


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def _mismatches(factory: sessionmaker[Session], n: int, prefix: str, now: dt.datetime | None = None) -> None:
    """n model-says-spoof clips verified bona fide (mismatches), plus one agreeing verdict."""
    ids = scored_items(factory, [row(f"{prefix}{i}.wav") for i in range(n + 1)], job=f"job-{prefix}")
    for i, item_id in enumerate(ids.values()):
        verdict(factory, item_id, "ann", "spoof" if i == n else "bonafide", now=now)


def test_mismatch_trigger_and_reset_after_success(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        update_policy(s, min_mismatches=3, max_age_days=30, actor="test")
    _mismatches(factory, 2, "a")
    with factory() as s:
        d = should_retrain(s)
        assert d.trigger is None and d.counts["new_mismatches"] == 2 and d.counts["new_feedback"] == 3
    _mismatches(factory, 1, "b")
    with factory() as s:
        d = should_retrain(s)
        assert d.trigger == "mismatches" and d.counts["new_mismatches"] == 3
    ran: list[int] = []
    run = tick(factory, lambda r: ran.append(r.id), "sched-test")
    assert run is not None and ran == [run.id] and run.trigger == "mismatches"
    assert tick(factory, lambda r: ran.append(r.id), "sched-other") is None  # lease held by the run
    with session_scope(factory) as s:
        assert lease.current_holder(s, RETRAIN_LEASE) == run_holder(run.id)
        start_run(s, run.id)
    with session_scope(factory) as s:
        finish_run(s, run.id, "succeeded", gate={"promote": False}, metrics={"eer": 0.1})
    with factory() as s:
        assert should_retrain(s).counts["new_mismatches"] == 0  # counted since the last successful run
        assert lease.current_holder(s, RETRAIN_LEASE) is None
    _mismatches(factory, 3, "c")
    with factory() as s:
        assert should_retrain(s).trigger == "mismatches"
        update_policy(s, enabled=False)
        assert should_retrain(s).trigger is None
        s.rollback()


def test_age_trigger_with_fake_now(factory: sessionmaker[Session]) -> None:
    t0 = utcnow()
    with session_scope(factory) as s:
        update_policy(s, min_mismatches=100, max_age_days=7, actor="test")
    with factory() as s:
        assert should_retrain(s, now=t0 + dt.timedelta(days=30)).trigger is None  # no feedback at all
    _mismatches(factory, 1, "a", now=t0)
    with factory() as s:
        assert should_retrain(s, now=t0 + dt.timedelta(days=6)).trigger is None
        d = should_retrain(s, now=t0 + dt.timedelta(days=7, seconds=1))
        assert d.trigger == "age" and d.counts["age_days"] >= 7


def test_manual_request_failed_run_backoff_and_orphans(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        req = request_retrain(s, "lead", reason="new attack seen")
        assert request_retrain(s, "lead").id == req.id  # one open request at a time
        update_policy(s, enabled=False)  # manual requests ignore the switch
    launched: list[RetrainRun] = []
    run = tick(factory, launched.append, "sched-a")
    assert run is not None and run.id == req.id and run.trigger == "manual" and run.status == "pending"
    # The job dies without finishing: once its lease lapses the next tick marks it failed.
    later = utcnow() + dt.timedelta(days=1)
    assert tick(factory, launched.append, "sched-a", now=later) is None
    with factory() as s:
        dead = s.get(RetrainRun, run.id)
        assert dead is not None and dead.status == "failed" and "lease" in (dead.error or "")
    # A failing launcher frees the lease and records the failure.
    with session_scope(factory) as s:
        request_retrain(s, "lead")

    def broken(_run: RetrainRun) -> None:
        raise OSError("no such executable")

    failed = tick(factory, broken, "sched-a", now=later)
    with session_scope(factory) as s:
        assert s.get(RetrainRun, failed.id).status == "failed"  # type: ignore[union-attr]
        assert lease.current_holder(s, RETRAIN_LEASE, now=later) is None
        update_policy(s, enabled=True, min_mismatches=1)
    _mismatches(factory, 1, "z", now=later + dt.timedelta(seconds=1))
    with factory() as s:  # automatic triggers wait a while after a failed run
        assert should_retrain(s, now=later + dt.timedelta(seconds=10)).trigger is None
        assert should_retrain(s, now=later + dt.timedelta(hours=2)).trigger == "mismatches"


def test_lease_semantics(factory: sessionmaker[Session]) -> None:
    t = utcnow()
    with session_scope(factory) as s:
        assert lease.acquire(s, "x", "a", 60, t)
        assert lease.acquire(s, "x", "a", 60, t)  # re-entrant for the holder
        assert not lease.acquire(s, "x", "b", 60, t + dt.timedelta(seconds=30))
        assert lease.acquire(s, "x", "b", 60, t + dt.timedelta(seconds=61))  # expired: taken over
        assert not lease.renew(s, "x", "a", 60, t)
        assert not lease.release(s, "x", "a")
        assert lease.release(s, "x", "b")
        assert lease.current_holder(s, "x") is None


def test_two_scheduler_processes_start_one_run(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    f = session_factory(engine)
    with session_scope(f) as s:
        update_policy(s, min_mismatches=2, actor="test")
    _mismatches(f, 2, "m")
    record = tmp_path / "launched.txt"
    go = tmp_path / "go"
    # Handshake instead of wall-clock: both processes are imported and waiting before either ticks.
    code = textwrap.dedent(f"""
        import os, sys, time, threading
        from pathlib import Path
        from feedback.scheduler import run_scheduler
        def launch(run):
            with open({str(record)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}} {{run.id}}\\n")
        Path({str(tmp_path)!r}, f"ready-{{os.getpid()}}").touch()
        while not Path({str(go)!r}).exists():
            time.sleep(0.01)
        threading.Timer(2.0, lambda: os._exit(0)).start()  # about ten ticks each
        run_scheduler({db_url!r}, interval_s=0.2, launch=launch)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.time() + 60
        while len(list(tmp_path.glob("ready-*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        go.touch()
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    lines = record.read_text().splitlines()
    assert len(lines) == 1, lines
    with f() as s:
        assert s.scalar(select(func.count()).select_from(RetrainRun)) == 1
        assert get_policy(s).min_mismatches == 2
    engine.dispose()


def test_run_scheduler_once(db_url: str) -> None:
    engine = make_engine(db_url)
    f = session_factory(engine)
    with session_scope(f) as s:
        request_retrain(s, "cli")
    seen: list[int] = []
    run = run_scheduler(db_url, 60, launch=lambda r: seen.append(r.id), once=True)
    assert run is not None and seen == [run.id]
    assert run_scheduler(db_url, 60, launch=lambda r: seen.append(r.id), once=True) is None
    engine.dispose()


def test_runs_in_words_and_as_json_and_the_stated_retry_rule(factory: sessionmaker[Session]) -> None:
    """What `policy runs` / `retrain` print: the gate's decision and why, or the error, and the retry rule."""
    import json

    from feedback.policy import RETRY_AFTER_S, RETRY_RULE
    from feedback.runs import describe_run, run_record

    with session_scope(factory) as s:
        ok = request_retrain(s, "lead")
    tick(factory, lambda run: None, "sched")
    gate = {"promote": False, "reason": "no improvement on held-back feedback: 2/3 correct (champion 2)",
            "champion_gate_eer": 0.25, "challenger_gate_eer": 0.3, "n_gate": 40, "n_heldback": 3,
            "champion_heldback_correct": 2, "challenger_heldback_correct": 2}
    with session_scope(factory) as s:
        start_run(s, ok.id)
        finish_run(s, ok.id, "succeeded", gate=gate, champion="v1", challenger="v2",
                   metrics={"base_data": "bundled sample set (examples/manifest.csv)"})
    with factory() as s:
        text = describe_run(s.get(RetrainRun, ok.id))
        record = json.loads(json.dumps(run_record(s.get(RetrainRun, ok.id))))
    assert f"run {ok.id} (manual, requested by lead): succeeded" in text
    assert "kept v1; challenger v2 stays a candidate" in text and f"why: {gate['reason']}" in text
    assert "EER 25.0 % → 30.0 %" in text and "base data: bundled sample set" in text
    assert record["promoted"] is False and record["reason"] == gate["reason"] and record["challenger"] == "v2"

    with session_scope(factory) as s:
        bad = request_retrain(s, "lead")
    tick(factory, lambda run: None, "sched")
    with session_scope(factory) as s:
        finish_run(s, bad.id, "failed", error="only 2 clips have a verified verdict")
    with factory() as s:
        assert describe_run(s.get(RetrainRun, bad.id)).endswith("error: only 2 clips have a verified verdict")
        decision = should_retrain(s)
    assert RETRY_AFTER_S == 3600 and "1 h" in RETRY_RULE and "manual request" in RETRY_RULE
    assert "automatic triggers wait 60 more min" in decision.reason
