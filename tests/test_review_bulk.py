"""Bulk confirmation of a job's confident spoofs (feedback.queue.bulk): leads only, re-checked, audited."""

from __future__ import annotations

import pytest
from feedback_helpers import row, scored_items, verdict

from feedback.db import session_factory, session_scope
from feedback.queue.bulk import bulk_confirm_spoofs, confident_spoofs
from feedback.reviewers import add_reviewer
from voxguard.errors import UserError


@pytest.fixture
def factory(db_url):
    f = session_factory(db_url)
    with session_scope(f) as s:
        add_reviewer(s, "lea", "pw", role="lead", rounds=4)
        add_reviewer(s, "rob", "pw", role="reviewer", rounds=4)
    yield f
    f.kw["bind"].dispose()


def test_only_previewed_items_that_still_qualify_are_confirmed(factory):
    ids = scored_items(factory, [row("/j/a.wav", confidence=0.99), row("/j/b.wav", confidence=0.97),
                                 row("/j/c.wav", confidence=0.6), row("/j/d.wav", "bonafide", 0.99, flagged=True)])
    scored_items(factory, [row("/k/e.wav", confidence=0.99)], job="job-2")
    with factory() as s:
        preview = confident_spoofs(s, "job-1", "lea")
    assert preview == sorted([ids["/j/a.wav"], ids["/j/b.wav"]])
    verdict(factory, ids["/j/b.wav"], "rob", "bonafide")  # decided meanwhile
    with session_scope(factory) as s:
        with pytest.raises(UserError, match="only leads and admins"):
            bulk_confirm_spoofs(s, "job-1", preview, "rob")
    with session_scope(factory) as s:
        done = bulk_confirm_spoofs(s, "job-1", preview + [ids["/j/c.wav"]], "lea")
    assert (done.confirmed, done.skipped) == (1, 2)
    with factory() as s:
        assert confident_spoofs(s, "job-1", "lea") == []
        assert confident_spoofs(s, "job-2", "lea") != []  # another job is untouched
