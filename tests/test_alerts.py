"""Alerts against a real HTTP receiver on 127.0.0.1: payloads, signatures, retries, the delivery log, the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from alert_receiver import receiver
from feedback_helpers import row

from feedback import alerts, webhook
from feedback.db import session_factory, session_scope
from feedback.models import ALERT_EVENTS, AlertDelivery
from feedback.policy import RETRY_RULE, request_retrain
from feedback.queue import enqueue_scores
from feedback.scheduler import tick
from voxguard.cli import main
from voxguard.commands.alerts import EVENTS

FAST = alerts.SendPolicy(retries=3, backoff_s=0.01, timeout_s=5.0)
SECRET = "It's a Secret to Everybody"


def test_signature_matches_githubs_published_example() -> None:
    """REFERENCES-2 §8: the same HMAC-SHA256 scheme as GitHub's X-Hub-Signature-256 test vector."""
    signature = webhook.sign(SECRET, b"Hello, World!")
    assert signature.startswith("sha256=757107ea") and signature.endswith("8b043e17")
    assert webhook.verify(SECRET, b"Hello, World!", signature)
    assert not webhook.verify(SECRET, b"Hello, World?", signature)


def test_cli_events_match_the_model() -> None:
    assert EVENTS == ALERT_EVENTS


def test_events_reach_the_receiver_signed_and_retried(db_url: str) -> None:
    factory = session_factory(db_url)
    with receiver(fail_first=1) as rx:
        with session_scope(factory) as s:
            hook = alerts.add_hook(s, rx.url, secret=SECRET, options={"spoof_confidence": 0.85, "backlog_clips": 1})
            hook_id = hook.id
            enqueue_scores(s, [row("/a/sure.wav", confidence=0.9), row("/a/unsure.wav", confidence=0.5),
                               row("/a/real.wav", label="bonafide"), row("/a/bad.wav", error="not_audio: x")],
                           "job-7", "v1")
        summary = {"job_id": "job-7", "model_version": "v1", "rows": 4, "scored": 3, "flagged": 2, "errors": 1,
                   "error_codes": {"not_audio": 1}}
        alerts.scoring_finished(factory, summary, FAST)

        # The first POST got a 500 and was retried: the receiver saw it twice, the log says 2 attempts.
        assert [r.answered for r in rx.requests[:2]] == [500, 200]
        assert rx.requests[0].body == rx.requests[1].body
        assert rx.events() == ["score.finished", "spoof.found", "queue.backlog"]
        for request in rx.requests:
            assert webhook.verify(SECRET, request.body, request.headers["X-Voxguard-Signature-256"])
            assert request.headers["X-Voxguard-Event"] == request.json["event"]
            assert request.json["text"].startswith("voxguard: ")  # what a Slack incoming webhook shows
        finished, spoofs, backlog = (r.json for r in rx.requests[1:])
        assert finished["data"]["flagged"] == 2 and finished["data"]["errors"] == 1
        assert "4 clips, 2 flagged, 1 errors" in finished["text"]
        # P(spoof) 0.95 passes the hook's 0.85, 0.75 does not; a bona fide clip never does.
        assert [c["uri"] for c in spoofs["data"]["clips"]] == ["/a/sure.wav"] and spoofs["data"]["threshold"] == 0.85
        assert backlog["data"]["open_items"] == 2 and backlog["data"]["limit_clips"] == 1
        with factory() as s:
            log = {d.event: d for d in s.query(AlertDelivery).filter(AlertDelivery.hook_id == hook_id)}
        assert log["score.finished"].attempts == 2 and log["score.finished"].status == "delivered"
        assert log["spoof.found"].attempts == 1 and log["spoof.found"].http_status == 200

        # The backlog alert is not repeated within backlog_hours; after that it is.
        n = len(rx.requests)
        alerts.check_backlog(factory, policy=FAST)
        assert len(rx.requests) == n
        alerts.check_backlog(factory, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25), policy=FAST)
        assert rx.events()[-1] == "queue.backlog"

        # Retraining outcomes, and a scheduled run whose launch fails, with the retry rule.
        alerts.retrain_finished(factory, 3, False, "v1", "v2", "no improvement on held-back feedback", FAST)
        assert "kept v1" in rx.requests[-1].json["text"] and rx.requests[-1].json["data"]["promoted"] is False
        with session_scope(factory) as s:
            request_retrain(s, "lead")

        def broken(run) -> None:  # noqa: ANN001
            raise OSError("no such executable")

        run = tick(factory, broken, holder="t")
        assert run is not None
        failed = rx.requests[-1].json
        assert failed["event"] == "retrain.failed" and failed["data"]["run_id"] == run.id
        assert "launch failed: no such executable" in failed["text"] and RETRY_RULE in failed["text"]


def test_a_receiver_that_keeps_failing_is_logged_not_raised(tmp_path) -> None:
    factory = session_factory(f"sqlite:///{tmp_path / 'a.db'}")
    from feedback.db import upgrade

    upgrade(f"sqlite:///{tmp_path / 'a.db'}")
    with receiver(fail_first=100) as rx:
        with session_scope(factory) as s:
            hook_id = alerts.add_hook(s, rx.url, events=["retrain.failed"], secret="s").id
        sent = alerts.notify(factory, "retrain.failed", "x", {}, alerts.SendPolicy(retries=2, backoff_s=0.01))
        assert len(rx.requests) == 3 and len(sent) == 1
        assert alerts.notify(factory, "score.finished", "x", {}, FAST) == []  # not subscribed
    with factory() as s:
        (delivery,) = s.query(AlertDelivery).filter(AlertDelivery.hook_id == hook_id).all()
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.http_status == 500
    # Nobody listening at all: a connection error, still one failed row, no exception.
    (down,) = alerts.notify(factory, "retrain.failed", "x", {}, alerts.SendPolicy(retries=1, backoff_s=0.01))
    assert down.status == "failed" and down.http_status is None and down.error


def test_alerts_cli(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXGUARD_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["alerts", "list"]) == 0
    assert "no alert hooks configured" in capsys.readouterr().out
    assert main(["alerts", "log"]) == 0
    assert "no alerts sent yet" in capsys.readouterr().out
    assert main(["alerts", "add", "ftp://example.org/x"]) == 2
    assert "must be http:// or https://" in capsys.readouterr().err
    with receiver() as rx:
        assert main(["alerts", "add", rx.url, "--event", "retrain.failed", "--event", "spoof.found",
                     "--spoof-confidence", "0.95"]) == 0
        out = capsys.readouterr().out
        assert "added alert hook 1" in out and "signing secret (shown once" in out
        secret = out.strip().rsplit(" ", 1)[-1]
        assert main(["alerts", "list"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[0].split()[:3] == ["id", "events", "thresholds"]
        assert "retrain.failed,spoof.found" in listed[1] and "spoof>=0.95" in listed[1] and rx.url in listed[1]
        assert main(["alerts", "test", "1"]) == 0
        assert "delivered after 1 attempt(s) (HTTP 200)" in capsys.readouterr().out
        assert webhook.verify(secret, rx.requests[-1].body, rx.requests[-1].headers["X-Voxguard-Signature-256"])
    assert main(["alerts", "log"]) == 0
    log = capsys.readouterr().out.splitlines()
    assert log[0].split()[:2] == ["id", "sent"] and "delivered" in log[1] and "test" in log[1]
    assert main(["alerts", "remove", "1"]) == 0
    assert main(["alerts", "remove", "1"]) == 2
    assert "no alert hook 1" in capsys.readouterr().err
    assert main(["alerts", "list"]) == 0
    assert "no alert hooks configured" in capsys.readouterr().out
