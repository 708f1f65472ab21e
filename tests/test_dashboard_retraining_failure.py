"""The dashboard's Retraining page shows a failed last run, its error and the retry rule (issue 16)."""

from __future__ import annotations

from dashboard_support import app_as, copy_db, make_template

from feedback.db import session_factory, session_scope
from feedback.policy import request_retrain
from feedback.runs import finish_run
from feedback.scheduler import tick


def test_a_failed_run_is_shown_with_its_error_and_the_retry_rule(tmp_path, monkeypatch) -> None:
    url = copy_db(make_template(tmp_path, n_clips=8), tmp_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "data"))
    factory = session_factory(url)
    at = app_as("carol", role="lead", page="retraining")
    assert not at.exception and not at.error  # the seeded history ends with a run that did not fail

    with session_scope(factory) as s:
        run_id = request_retrain(s, "carol").id
    tick(factory, lambda run: None, "test-scheduler")
    with session_scope(factory) as s:
        finish_run(s, run_id, "failed", error="only 2 clips have a verified verdict; retraining needs at least 4")
    at = app_as("carol", role="lead", page="retraining")
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Run #{run_id} failed: only 2 clips have a verified verdict; retraining needs at least 4"]
    assert any(c.value.startswith("After a failed run, automatic triggers wait 1 h") and "manual request" in c.value
               for c in at.caption), [c.value for c in at.caption]
