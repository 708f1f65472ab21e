"""Task distribution (feedback.queue.assign) on SQLite and PostgreSQL: reviewers get different clips,
each clip gets the reviews the rule needs, claims expire and are released by a verdict."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text
from feedback_helpers import row, scored_items, verdict

from feedback.db import session_factory, session_scope
from feedback.models import RetrainPolicy, utcnow
from feedback.queue import QueueFilter, list_queue
from feedback.queue.assign import (
    CLAIM_TTL_S,
    available_items,
    claim,
    claim_next,
    my_claims,
    release,
    reviews_needed,
)


@pytest.mark.parametrize("pairs, required, needed", [
    ([], 1, 1), ([], 2, 2), ([("a", "spoof")], 2, 1), ([("a", "unsure")], 1, 1),
    ([("a", "spoof"), ("b", "bonafide")], 2, 1),  # a tie always needs one more
    ([("a", "spoof"), ("b", "bonafide"), ("c", "spoof")], 2, 0),
    ([("a", "spoof"), ("a", "bonafide"), ("b", "bonafide")], 2, 0),  # a's latest verdict counts once
    ([("a", "spoof"), ("b", "spoof")], 2, 0),
])
def test_reviews_needed_follows_the_verdict_rule(pairs, required, needed):
    assert reviews_needed(pairs, required) == needed


@pytest.fixture
def queue(db_url):
    factory = session_factory(db_url)
    # Priorities: the least confident first, so c1 (0.51) ... c6 (0.96).
    ids = scored_items(factory, [row(f"/a/c{i}.wav", confidence=0.5 + i / 100 + (i - 1) * 0.08)
                                 for i in range(1, 7)])
    yield factory, [ids[f"/a/c{i}.wav"] for i in range(1, 7)]
    factory.kw["bind"].dispose()


def _claim(factory, reviewer, now=None, **kw):
    with session_scope(factory) as s:
        return claim_next(s, reviewer, now=now, **kw)


def _set_required(factory, n):
    with session_scope(factory) as s:
        policy = s.get(RetrainPolicy, 1) or RetrainPolicy(id=1)
        policy.required_agreement = n
        s.add(policy)


def test_two_reviewers_get_different_clips_and_keep_theirs(queue):
    factory, ids = queue
    a, b = _claim(factory, "alice"), _claim(factory, "bob")
    assert a == ids[0] and b == ids[1]
    assert _claim(factory, "alice") == a  # a reload shows the same clip
    verdict(factory, a, "alice", "spoof")
    with session_scope(factory) as s:
        release(s, a, "alice")
    assert _claim(factory, "alice") == ids[2]  # not bob's, not the decided one
    with factory() as s:
        assert available_items(s, "carol", limit=10) == ids[3:]
        assert my_claims(s, "bob") == [b]


def test_each_clip_goes_to_as_many_reviewers_as_the_rule_needs(queue):
    factory, ids = queue
    _set_required(factory, 2)
    assert _claim(factory, "alice") == ids[0]
    assert _claim(factory, "bob") == ids[0]  # two reviews needed: two reviewers on one clip
    assert _claim(factory, "carol") == ids[1]
    verdict(factory, ids[0], "alice", "spoof")
    verdict(factory, ids[0], "bob", "bonafide")  # a tie: one more review needed
    with session_scope(factory) as s:
        release(s, ids[0], "alice"), release(s, ids[0], "bob")
    assert _claim(factory, "dave") == ids[0]
    assert _claim(factory, "alice") == ids[1]  # alice never gets ids[0] again; ids[1] has a free slot
    verdict(factory, ids[0], "dave", "spoof")
    with factory() as s:
        assert ids[0] not in available_items(s, "erin", limit=10)  # decided 2:1


def test_a_vote_frees_the_slot_even_before_the_claim_is_released(queue):
    factory, ids = queue
    assert _claim(factory, "alice") == ids[0]
    verdict(factory, ids[0], "alice", "unsure")  # unsure decides nothing: the clip still needs a review
    assert _claim(factory, "bob") == ids[0]


def test_an_abandoned_claim_expires(queue):
    factory, ids = queue
    now = utcnow()
    assert _claim(factory, "alice", now=now) == ids[0]
    assert _claim(factory, "bob", now=now) == ids[1]
    assert _claim(factory, "bob", now=now + dt.timedelta(seconds=CLAIM_TTL_S - 10)) == ids[1]  # renewed
    later = now + dt.timedelta(seconds=CLAIM_TTL_S + 1)
    assert _claim(factory, "carol", now=later) == ids[0]  # alice's has expired
    assert _claim(factory, "dave", now=later) == ids[2]  # bob's still holds
    with factory() as s:  # alice's expired claim row was dropped, not kept forever
        assert sorted(h for (h,) in s.execute(text("select holder from leases"))) == ["bob", "carol", "dave"]


def test_assignment_honours_the_queue_filters(queue):
    factory, ids = queue
    assert _claim(factory, "alice", filters=QueueFilter(name="C4")) == ids[3]
    with factory() as s:
        page = list_queue(s, QueueFilter(score_min=0.85, score_max=0.95))
        assert page.total == len(page.rows) > 0
        assert all(0.85 <= r.model_score <= 0.95 for r in page.rows)
        assert list_queue(s, QueueFilter(name="c%")).total == 0  # typed literally, not a LIKE pattern
        assert [r.item_id for r in list_queue(s, QueueFilter(item_ids=(ids[2], ids[4]))).rows] == [ids[2], ids[4]]


def test_reviewers_asking_at_the_same_moment_get_different_clips(queue):
    factory, ids = queue
    got: dict[str, int | None] = {}
    start = threading.Barrier(4)

    def work(name: str) -> None:
        start.wait()
        got[name] = _claim(factory, name)

    threads = [threading.Thread(target=work, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and None not in got.values()
    assert len(set(got.values())) == 4, got


def test_a_picked_clip_is_claimed_only_while_it_has_a_slot(queue):
    factory, ids = queue
    assert _claim(factory, "alice") == ids[0]
    with session_scope(factory) as s:
        assert not claim(s, "bob", ids[0])  # alice's
        assert claim(s, "bob", ids[3]) and claim(s, "bob", ids[3])  # free, then already bob's
    with factory() as s:
        assert set(my_claims(s, "bob")) == {ids[3]}
    verdict(factory, ids[3], "bob", "spoof")
    with session_scope(factory) as s:
        assert not claim(s, "bob", ids[3])  # decided (and reviewed by bob)


def test_skipped_clips_are_not_offered_again(queue):
    factory, ids = queue
    assert _claim(factory, "alice") == ids[0]
    with session_scope(factory) as s:
        release(s, ids[0], "alice")
    assert _claim(factory, "alice", exclude={ids[0]}) == ids[1]
    with factory() as s:
        assert available_items(s, "alice", limit=3, exclude={ids[0]}) == ids[1:4]
