"""Review queue: idempotent enqueue, ordering/paging, final-verdict rule, mismatches, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from feedback_helpers import row, scored_items, verdict
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from feedback.db import make_engine, session_factory, session_scope
from feedback.models import AuditEvent, Clip, Review, ReviewItem, Score, utcnow
from feedback.policy import update_policy
from feedback.queue import (
    QueueFilter,
    count_mismatches,
    decide_final,
    enqueue_scores,
    final_verdict,
    list_queue,
    mismatches,
    verified_feedback,
)
from feedback.reviewers import add_reviewer, authenticate
from feedback.stats import clip_agreement, reviewer_agreement


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def test_enqueue_is_idempotent(factory: sessionmaker[Session]) -> None:
    rows = [row("s3://b/a.wav"), row("s3://b/b.wav", label="bonafide", confidence=0.9),
            row("s3://b/c.wav", label="bonafide", confidence=0.05),
            row("s3://b/bad.wav", error="DecodeError: not audio")]
    for _ in range(2):
        with session_scope(factory) as s:
            res = enqueue_scores(s, rows, "job-1", "v1", uncertain_below=0.1)
    assert res.rows == 4 and res.errors == 1 and res.items_created == 0  # second run adds nothing
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Clip)) == 4
        assert s.scalar(select(func.count()).select_from(Score)) == 4
        queued = {uri for uri, in s.execute(select(Clip.uri).join(ReviewItem, ReviewItem.clip_id == Clip.id))}
        assert queued == {"s3://b/a.wav", "s3://b/c.wav"}  # flagged + uncertain, never errors
        assert s.scalar(select(Score.error).join(Clip).where(Clip.uri == "s3://b/bad.wav")).startswith("Decode")
    # Re-scoring in a new job with the same model: new scores, still one item per clip.
    with session_scope(factory) as s:
        assert enqueue_scores(s, rows, "job-2", "v1").items_created == 0
    # A new model version queues the clip again (its own verdict history).
    with session_scope(factory) as s:
        assert enqueue_scores(s, rows[:1], "job-3", "v2").items_created == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ReviewItem)) == 3
        assert s.scalar(select(func.count()).select_from(Score)) == 9


def test_queue_order_filters_and_keyset_paging(factory: sessionmaker[Session]) -> None:
    rows = [row(f"f{i}.wav", confidence=(i % 10) / 10 + 0.05) for i in range(30)]
    rows += [row(f"u{i}.wav", label="bonafide", confidence=0.01, flagged=False) for i in range(5)]
    with session_scope(factory) as s:
        enqueue_scores(s, rows, "job-1", "v1", uncertain_below=0.1)
        enqueue_scores(s, [row("other.wav")], "job-2", "v1")
    with factory() as s:
        first = list_queue(s, page_size=7)
        assert first.total == 36
        assert first.rows[0].flagged and first.rows[0].confidence == pytest.approx(0.05)
        seen, cursor = [], None
        while True:
            page = list_queue(s, page_size=7, cursor=cursor, with_total=False)
            seen += page.rows
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert len({r.item_id for r in seen}) == 36
        prios = [r.priority for r in seen]
        assert prios == sorted(prios, reverse=True)
        assert all(r.flagged for r in seen[:31]) and not any(r.flagged for r in seen[31:])
        # OFFSET paging agrees with keyset paging.
        assert [r.item_id for r in list_queue(s, page=2, page_size=7).rows] == [r.item_id for r in seen[7:14]]
        assert list_queue(s, QueueFilter(job_id="job-2")).total == 1
        assert list_queue(s, QueueFilter(flagged=False)).total == 5


def test_final_verdict_rule_units() -> None:
    roles = {"lee": "lead"}
    assert decide_final([("a", "spoof")], roles, 1) == "spoof"
    assert decide_final([("a", "spoof")], roles, 2) is None
    assert decide_final([("a", "spoof"), ("b", "spoof")], roles, 2) == "spoof"
    assert decide_final([("a", "spoof"), ("b", "bonafide")], roles, 1) is None  # tie waits for a lead
    assert decide_final([("a", "spoof"), ("b", "bonafide"), ("lee", "bonafide")], roles, 2) == "bonafide"
    assert decide_final([("a", "spoof"), ("lee", "unsure")], roles, 1) == "spoof"  # unsure never decides
    assert decide_final([("a", "unsure")], roles, 1) is None
    assert decide_final([("a", "spoof"), ("a", "bonafide")], roles, 1) == "bonafide"  # latest per reviewer


def test_verdicts_final_rule_and_mismatches(factory: sessionmaker[Session]) -> None:
    ids = scored_items(factory, [row("a.wav"), row("b.wav"), row("c.wav"), row("d.wav")])
    with session_scope(factory) as s:
        add_reviewer(s, "lee", "s3cret", role="lead", rounds=4)
        update_policy(s, required_agreement=2, actor="test")
    # a: two reviewers agree it is bona fide -> mismatch with the model's "spoof".
    r1 = verdict(factory, ids["a.wav"], "ann", "bonafide", note="human breathing")
    assert r1.final_verdict is None and r1.status == "open"
    r2 = verdict(factory, ids["a.wav"], "bob", "bonafide", expected_version=r1.version)
    assert r2.final_verdict == "bonafide" and r2.status == "decided" and not r2.stale
    # b: conflict, then the lead decides spoof -> agrees with the model, not a mismatch.
    verdict(factory, ids["b.wav"], "ann", "spoof")
    verdict(factory, ids["b.wav"], "bob", "bonafide")
    assert verdict(factory, ids["b.wav"], "lee", "spoof").final_verdict == "spoof"
    # c: unsure only -> stays open, never a mismatch.
    assert verdict(factory, ids["c.wav"], "ann", "unsure").status == "open"
    # d: stale expected version is reported but the verdict still counts.
    verdict(factory, ids["d.wav"], "ann", "bonafide")
    stale = verdict(factory, ids["d.wav"], "lee", "bonafide", expected_version=0)
    assert stale.stale and stale.final_verdict == "bonafide"
    with factory() as s:
        assert final_verdict(s, ids["a.wav"]) == "bonafide"
        assert {m.uri for m in mismatches(s)} == {"a.wav", "d.wav"}
        assert count_mismatches(s) == 2
        assert {u for u, _, _ in verified_feedback(s)} == {"a.wav", "b.wav", "d.wav"}
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "review.verdict")) == 8
        by_clip = {c.uri: c for c in clip_agreement(s)}
        assert by_clip["a.wav"].unanimous and by_clip["a.wav"].agrees_with_model is False
        assert not by_clip["b.wav"].unanimous and by_clip["b.wav"].agrees_with_model is True
        by_rev = {r.reviewer: r for r in reviewer_agreement(s)}
        assert by_rev["bob"].agree_with_final == pytest.approx(0.5)
        assert by_rev["ann"].n_unsure == 1
        assert authenticate(s, "lee", "s3cret") is not None and authenticate(s, "lee", "nope") is None
    with pytest.raises(ValueError):
        verdict(factory, ids["a.wav"], "ann", "maybe")


def test_two_reviewers_at_once_lose_nothing(db_url: str) -> None:
    """Many rounds of two threads, separate engines/sessions, verdicts on the same item at once."""
    setup_engine = make_engine(db_url)
    setup = session_factory(setup_engine)
    ids = scored_items(setup, [row(f"race{i}.wav") for i in range(8)])
    with session_scope(setup) as s:
        update_policy(s, required_agreement=2, actor="test")
    engines = [make_engine(db_url) for _ in range(2)]
    factories = [session_factory(e) for e in engines]
    errors: list[BaseException] = []

    def review(k: int, item_id: int, barrier: threading.Barrier) -> None:
        try:
            with session_scope(factories[k]) as s:
                barrier.wait()
                # Both transactions are open and overlapping before either commits.
                from feedback.queue import record_verdict
                record_verdict(s, item_id, f"rev{k}", "bonafide", expected_version=0)
                time.sleep(0.02)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        for item_id in ids.values():
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=review, args=(k, item_id, barrier)) for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        assert not errors, errors
        with setup() as s:
            for item_id in ids.values():
                item = s.get(ReviewItem, item_id)
                assert item is not None
                assert s.scalar(select(func.count()).where(Review.item_id == item_id)) == 2
                # Had one update been lost, one reviewer's agreement would be missing.
                assert item.final_verdict == "bonafide" and item.status == "decided" and item.version == 2
    finally:
        for e in [*engines, setup_engine]:
            e.dispose()


def test_large_queue_pages_use_the_index(tmp_path) -> None:
    """100k queued items: keyset pages walk the queue index, so depth costs nothing (SQLite).

    Speed itself is measured by the dashboard benchmark, not asserted here."""
    from feedback.db import upgrade

    url = f"sqlite:///{tmp_path / 'big.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    n = 100_000
    now = utcnow()
    with session_scope(factory) as s:  # bulk load: enqueue throughput is not what this test measures
        s.execute(insert(Clip.__table__), [{"id": i + 1, "uri": f"s3://big/{i}.wav", "created_at": now} for i in range(n)])
        s.execute(insert(ReviewItem.__table__), [
            {"clip_id": i + 1, "model_version": "v1", "model_label": "spoof", "flagged": i % 3 > 0,
             "priority": (i % 3 > 0) + (i % 997) / 997, "status": "open", "version": 0,
             "created_at": now, "updated_at": now} for i in range(n)])
    with factory() as s:
        first = page = list_queue(s, page_size=50)
        for _ in range(100):  # walk 5000 items deep
            page = list_queue(s, page_size=50, cursor=page.next_cursor, with_total=False)
        deep = list_queue(s, page_size=50, cursor=page.next_cursor, with_total=False)
        # The plan walks the queue index (no full sort), so depth does not matter.
        plan = " ".join(str(r) for r in s.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM review_items WHERE status = 'open' "
            "AND (priority, id) < (1.5, 5000) ORDER BY priority DESC, id DESC LIMIT 50")))
    engine.dispose()
    assert len(deep.rows) == 50 and deep.rows[0].priority <= page.rows[-1].priority
    assert "ix_review_items_queue" in plan and "TEMP B-TREE" not in plan, plan
    assert first.total == n


def test_undo_takes_a_verdict_back_and_reopens_the_item(factory: sessionmaker[Session]) -> None:
    import datetime as dt

    from feedback.queue import undo_verdict

    ids = scored_items(factory, [row("s3://b/u.wav")])
    item = ids["s3://b/u.wav"]
    verdict(factory, item, "alice", "bonafide", note="oops")
    with factory() as s:
        assert final_verdict(s, item) == "bonafide"
    with session_scope(factory) as s:
        assert undo_verdict(s, item, "bob") is None  # only one's own verdict
        res = undo_verdict(s, item, "alice")
    assert res is not None and res.final_verdict is None and res.status == "open"
    with factory() as s:
        assert final_verdict(s, item) is None
        assert s.scalar(select(func.count()).select_from(Review).where(Review.item_id == item)) == 0
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "review.undo")).one()
        assert (event.actor, event.details["verdict"], event.details["note"]) == ("alice", "bonafide", "oops")
    verdict(factory, item, "alice", "spoof")
    with session_scope(factory) as s:  # too late: the window has passed
        assert undo_verdict(s, item, "alice", now=utcnow() + dt.timedelta(hours=1)) is None
    with factory() as s:
        assert final_verdict(s, item) == "spoof"
