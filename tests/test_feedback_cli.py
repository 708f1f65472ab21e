"""The feedback CLI end to end on a real database: db upgrade, review, models, policy, scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedback_helpers import row

from feedback.db import session_factory, session_scope
from feedback.queue import enqueue_scores
from feedback.registry import register_candidate
from voxguard.cli import main


def test_cli_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert "revision 0002" in capsys.readouterr().out
    f = session_factory(url)
    with session_scope(f) as s:
        enqueue_scores(s, [row("s3://x/a.wav"), row("s3://x/b.wav", confidence=0.1)], "job-cli", "v1")
        register_candidate(s, "v1", "file:///m/v1.vxpkg", threshold=0.5)
        register_candidate(s, "v2", "file:///m/v2.vxpkg", threshold=0.4, parent="v1")

    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "pw")
    assert main(["review", "reviewers", "add", "lee", "--role", "lead"]) == 0
    assert main(["review", "list", "--job", "job-cli"]) == 0
    out = capsys.readouterr().out
    assert "2 item(s)" in out and out.index("b.wav") < out.index("a.wav")  # least confident first
    assert main(["review", "verdict", "s3://x/a.wav", "--as", "bonafide", "--note", "breath", "--reviewer", "lee"]) == 0
    assert "final: bonafide" in capsys.readouterr().out
    assert main(["review", "verdict", "s3://x/none.wav", "--as", "spoof"]) == 1

    # A disabled account records nothing (its past verdicts stay); enabling it again restores it.
    assert main(["review", "reviewers", "disable", "lee"]) == 0
    capsys.readouterr()
    assert main(["review", "verdict", "s3://x/b.wav", "--as", "spoof", "--reviewer", "lee"]) == 1
    assert "reviewer 'lee' is disabled" in capsys.readouterr().err
    assert main(["review", "reviewers", "list"]) == 0
    assert "inactive" in capsys.readouterr().out
    assert main(["review", "reviewers", "disable", "nobody"]) == 2
    assert "no reviewer 'nobody'" in capsys.readouterr().err
    assert main(["review", "reviewers", "enable", "lee"]) == 0
    assert main(["review", "verdict", "s3://x/b.wav", "--as", "spoof", "--reviewer", "lee"]) == 0
    assert "final: spoof" in capsys.readouterr().out

    assert main(["policy", "set", "--min-mismatches", "1", "--max-age-days", "3"]) == 0
    out = capsys.readouterr().out
    assert "min_mismatches=1" in out and "retrain (mismatches)" in out

    assert main(["models", "promote", "v1"]) == 0
    assert main(["models", "promote", "v2"]) == 0
    assert main(["models", "rollback"]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "v1 is production again" in out
    assert any(line.startswith("v1") and "production" in line for line in out.splitlines())

    assert main(["policy", "set", "--disable"]) == 0
    assert main(["policy", "request", "--reason", "test"]) == 0
    assert "retraining requested (run 1)" in capsys.readouterr().out


def test_the_first_admin_can_be_added_to_a_new_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The README's review journey starts here: no `db upgrade` needed before the first account."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "pw")
    assert main(["review", "reviewers", "add", "admin", "--role", "admin", "--db-url", url]) == 0
    assert "added admin admin" in capsys.readouterr().out
    assert main(["review", "reviewers", "add", "Admin", "--db-url", url]) == 2  # the same account, other case
    assert "already exists" in capsys.readouterr().err


def test_empty_lists_say_so_and_tables_have_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from voxguard.commands.jobs import job_lines

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    for command, sentence in ((["models", "list"], "no models registered yet"),
                              (["review", "list"], "no open items in the review queue"),
                              (["review", "reviewers", "list"], "no reviewers yet"),
                              (["policy", "runs"], "no retraining runs yet"),
                              (["alerts", "list"], "no alert hooks configured")):
        assert main(command) == 0
        assert capsys.readouterr().out.startswith(sentence), command
    assert job_lines([], "http://127.0.0.1:8265") == [
        "no jobs on http://127.0.0.1:8265 yet (`voxguard submit score ...` starts one)"]

    with session_scope(session_factory(url)) as s:
        enqueue_scores(s, [row("s3://x/a.wav")], "job-h", "v1")
        register_candidate(s, "v1", "file:///m/v1.vxpkg", threshold=0.5)
    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "pw")
    assert main(["review", "reviewers", "add", "ann"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    header, first = capsys.readouterr().out.splitlines()
    assert header.split() == ["version", "status", "threshold", "created", "(UTC)", "artefact"]
    assert first.split()[:3] == ["v1", "candidate", "0.500"]
    assert main(["review", "list"]) == 0
    count, header, first = capsys.readouterr().out.splitlines()
    assert count == "1 item(s)" and header.split() == ["item", "prio", "model", "score", "status", "verdict",
                                                       "reviews", "clip"]
    assert first.split()[-1] == "s3://x/a.wav"
    assert main(["review", "reviewers", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["name", "role", "state"]
    lines = job_lines([{"submission_id": "voxguard-score-1", "status": "RUNNING", "start_time": 0,
                        "entrypoint": "voxguard score x"}], None)
    assert lines[0].split() == ["submission", "id", "status", "started", "entrypoint"]
    assert lines[1].split() == ["voxguard-score-1", "RUNNING", "-", "voxguard", "score", "x"]
