"""Review integrity and sign-in (issue 15): normalised usernames, CLI credentials, lockout, bounded audit."""

from __future__ import annotations

import datetime as dt

import pytest
from feedback_helpers import row
from sqlalchemy import text

from dashboard_support import app_as, query
from feedback import signin
from feedback.audit import audit
from feedback.db import session_factory, session_scope
from feedback.models import utcnow
from feedback.queue import enqueue_scores, record_verdict
from feedback.reviewers import add_reviewer, authenticate, is_disabled, set_active
from feedback.signin import MAX_FAILURES, WINDOW, sign_in
from voxguard.cli import main
from voxguard.errors import Forbidden


@pytest.fixture
def factory(db_url):
    f = session_factory(db_url)
    with session_scope(f) as s:
        add_reviewer(s, "Alice ", "alice-pw", rounds=4)
        enqueue_scores(s, [row("s3://x/a.wav"), row("s3://x/b.wav")], "job-1", "v1")
    yield f
    f.kw["bind"].dispose()


def _actions(url: str, actor: str | None = None) -> list[str]:
    sql = "select action from audit_events where action like 'auth.%'" + (" and actor = :a" if actor else "")
    return [r[0] for r in query(url, sql + " order by id", a=actor)]


# --- usernames -----------------------------------------------------------------------------------
def test_usernames_are_normalised_and_capped(factory, db_url):
    assert query(db_url, "select username from reviewers") == [("alice",)]
    with session_scope(factory) as s:
        assert authenticate(s, "ALICE", "alice-pw").username == "alice"
        with pytest.raises(ValueError, match="already exists"):
            add_reviewer(s, "aLiCe", "other", rounds=4)
        with pytest.raises(ValueError, match="1..64 characters"):
            add_reviewer(s, "x" * 65, "pw", rounds=4)


def test_the_disabled_check_ignores_case(factory):
    with session_scope(factory) as s:
        set_active(s, "ALICE", False)
    with session_scope(factory) as s:
        assert is_disabled(s, "alice") and is_disabled(s, "Alice") and is_disabled(s, " ALICE ")
        item_id = s.scalar(text("select min(id) from review_items"))
        with pytest.raises(Forbidden, match="disabled"):
            record_verdict(s, item_id, "Alice", "spoof")


# --- the review CLI --------------------------------------------------------------------------------
def test_cli_verdicts_need_the_reviewers_password(factory, db_url, monkeypatch, capsys):
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    monkeypatch.delenv("VOXGUARD_REVIEWER_PASSWORD", raising=False)
    verdict = ["review", "verdict", "s3://x/a.wav", "--as", "bonafide", "--reviewer", "Alice"]
    assert main(verdict) == 2  # no password and no terminal to ask on
    assert capsys.readouterr().err.strip() == \
        "error: set VOXGUARD_REVIEWER_PASSWORD or run in a terminal to be asked for it"
    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "guess")
    assert main(verdict) == 1
    assert capsys.readouterr().err.strip() == "error: unknown username or wrong password"
    assert query(db_url, "select count(*) from reviews") == [(0,)]
    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "alice-pw")
    assert main(verdict) == 0
    assert "recorded bonafide by alice" in capsys.readouterr().out
    assert query(db_url, "select reviewer from reviews") == [("alice",)]  # the account's spelling
    assert _actions(db_url) == ["auth.sign_in_failed", "auth.sign_in"]
    # Disabled as `alice`, refused as `ALICE` too; told so only with the right password.
    assert main(["review", "reviewers", "disable", "alice"]) == 0
    assert main(["review", "verdict", "s3://x/b.wav", "--as", "spoof", "--reviewer", "ALICE"]) == 1
    assert "reviewer 'alice' is disabled" in capsys.readouterr().err
    assert query(db_url, "select count(*) from reviews") == [(1,)]


# --- lockout -------------------------------------------------------------------------------------------
def test_an_account_locks_after_repeated_failures_and_unlocks_after_the_window(factory, db_url):
    start = utcnow()
    with session_scope(factory) as s:
        for i in range(MAX_FAILURES):
            assert sign_in(s, "alice", f"guess-{i}", now=start).reviewer is None
        locked = sign_in(s, "alice", "alice-pw", now=start + dt.timedelta(seconds=1))
        assert locked.reviewer is None and locked.message.startswith("too many failed sign-ins")
        for _ in range(20):  # a locked account adds no rows, however hard it is hammered
            sign_in(s, "ALICE", "guess", now=start + dt.timedelta(seconds=2))
    assert _actions(db_url, "alice") == ["auth.sign_in_failed"] * MAX_FAILURES + ["auth.locked"]
    with session_scope(factory) as s:
        later = start + WINDOW + dt.timedelta(minutes=1)
        assert sign_in(s, "alice", "alice-pw", now=later).reviewer.username == "alice"
        # A success clears the count: the next failure does not lock again.
        assert sign_in(s, "alice", "guess", now=later + dt.timedelta(seconds=1)).message == signin.WRONG
        assert sign_in(s, "alice", "alice-pw", now=later + dt.timedelta(seconds=2)).reviewer is not None


def test_failed_sign_ins_store_bounded_names_and_a_bounded_number_of_rows(factory, db_url, monkeypatch):
    monkeypatch.setattr(signin, "MAX_ANONYMOUS_ROWS", 3)
    with session_scope(factory) as s:
        sign_in(s, "m" * 1_000_000, "pw")
        for i in range(10):
            sign_in(s, f"nobody-{i}", "pw")
    actors = [r[0] for r in query(db_url, "select actor from audit_events where action = 'auth.sign_in_failed'")]
    assert len(actors) == 3 and actors[0] == "m" * 64
    with session_scope(factory) as s:  # the cap on unknown names never stops counting real accounts
        sign_in(s, "alice", "guess")
    assert _actions(db_url, "alice") == ["auth.sign_in_failed"]


def test_the_dashboard_sign_in_is_locked_too(factory, db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    at = app_as(None)
    for i in range(MAX_FAILURES):
        at.text_input[0].input("alice")
        at.text_input[1].input(f"guess-{i}")
        at.button[0].click().run()
    at.text_input[0].input("alice")
    at.text_input[1].input("alice-pw")
    at.button[0].click().run()
    assert not at.exception
    assert "Too many failed sign-ins" in at.error[0].value
    assert "Review queue" not in [t.value for t in at.title]


# --- per-client backoff ---------------------------------------------------------------------------
def test_one_client_backs_off_exponentially_across_accounts(factory, db_url):
    start = utcnow()
    with session_scope(factory) as s:
        add_reviewer(s, "bob", "bob-pw", rounds=4)
    client = "ip:203.0.113.9"
    with session_scope(factory) as s:
        names = ["alice", "bob", "carol", "dave", "eve"]  # spread over accounts: no account lock helps here
        for i, name in enumerate(names[: signin.CLIENT_FREE_FAILURES]):
            assert sign_in(s, name, "guess", now=start + dt.timedelta(milliseconds=i), client=client).message == signin.WRONG
        t = start + dt.timedelta(milliseconds=signin.CLIENT_FREE_FAILURES - 1)
        # Now every attempt waits 1 s, 2 s, 4 s ... after the client's latest failure, right password or not.
        refused = sign_in(s, "bob", "bob-pw", now=t + dt.timedelta(milliseconds=500), client=client)
        assert refused.reviewer is None and refused.message.startswith("too many failed sign-ins from this address")
        assert sign_in(s, "bob", "bob-pw", now=t + dt.timedelta(milliseconds=500), client="ip:198.51.100.1").reviewer
        waits = []
        for k in range(4):
            wait = signin.client_wait(s, client, t)
            waits.append(round(wait))
            t += dt.timedelta(seconds=wait + 0.01)
            assert sign_in(s, f"nobody{k}", "g", now=t, client=client).message == signin.WRONG
        assert waits == [1, 2, 4, 8]
        assert round(signin.client_wait(s, client, t)) == 16
        # A success from the client does not reset its backoff (one valid account must not help guessing).
        t += dt.timedelta(seconds=16.1)
        assert sign_in(s, "bob", "bob-pw", now=t, client=client).reviewer is not None
        assert sign_in(s, "zed", "g", now=t, client=client).message == signin.WRONG
        assert round(signin.client_wait(s, client, t)) == 32
        # The backoff keeps doubling (capped at CLIENT_MAX_DELAY), and ends with the window.
        for k in range(3):
            t += dt.timedelta(seconds=signin.client_wait(s, client, t) + 0.01)
            sign_in(s, f"x{k}", "h", now=t, client=client)
        assert round(signin.client_wait(s, client, t)) == 256
        assert signin.client_wait(s, client, t + signin.WINDOW + dt.timedelta(seconds=1)) == 0
    refused_rows = query(db_url, "select count(*) from audit_events where action = 'auth.sign_in_failed'")[0][0]
    assert refused_rows == signin.CLIENT_FREE_FAILURES + 4 + 1 + 3  # refused attempts are not recorded
    assert _actions(db_url, "ip:203.0.113.9") == ["auth.client_throttled"]


def test_the_client_backoff_is_capped(factory, monkeypatch):
    monkeypatch.setattr(signin, "CLIENT_FREE_FAILURES", 1)
    now = utcnow()
    with session_scope(factory) as s:
        for k in range(12):
            sign_in(s, f"n{k}", "g", now=now, client="ip:x")  # same instant: only the first is checked
        assert signin.client_wait(s, "ip:x", now) == 1.0
        for k in range(12):
            audit(s, f"n{k}", signin.FAILED, now=now, client="ip:x")  # as if recorded by other processes
        assert signin.client_wait(s, "ip:x", now) == signin.CLIENT_MAX_DELAY.total_seconds()


def test_locking_many_accounts_from_one_client_gets_slow(factory):
    """Without the backoff one client locks an account per MAX_FAILURES quick guesses; now the third
    account costs minutes of waiting."""
    start = t = utcnow()
    client = "ip:203.0.113.7"
    with session_scope(factory) as s:
        for name in ("u1", "u2", "u3"):
            add_reviewer(s, name, "pw", rounds=4)
        for name in ("u1", "u2", "u3"):
            for _ in range(MAX_FAILURES):
                t += dt.timedelta(seconds=signin.client_wait(s, client, t) + 0.01)
                assert sign_in(s, name, "guess", now=t, client=client).message == signin.WRONG
    assert (t - start).total_seconds() > 2 ** (2 * MAX_FAILURES - signin.CLIENT_FREE_FAILURES)


def test_the_dashboard_passes_its_client(factory, db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    monkeypatch.setattr(signin, "CLIENT_FREE_FAILURES", 2)
    monkeypatch.setattr(signin, "CLIENT_BASE_DELAY", dt.timedelta(minutes=5))
    at = app_as(None)
    for name in ("nobody", "someone"):
        at.text_input[0].input(name)
        at.text_input[1].input("guess")
        at.button[0].click().run()
    at.text_input[0].input("alice")
    at.text_input[1].input("alice-pw")
    at.button[0].click().run()
    assert not at.exception
    assert "from this address" in at.error[0].value
    assert "Review queue" not in [t.value for t in at.title]
    clients = query(db_url, "select actor from audit_events where action = 'auth.client_throttled'")
    assert clients == [("ip:local",)]
