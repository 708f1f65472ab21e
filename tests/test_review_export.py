"""Verdict export (feedback.export) from the CLI and the dashboard: CSV and Parquet, every verdict, audited."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from feedback_helpers import row, scored_items, verdict

from dashboard_support import app_as, query
from feedback.db import session_factory, session_scope
from feedback.export import SCHEMA, verdicts_bytes
from voxguard.cli import main


@pytest.fixture
def reviewed(db_url):
    factory = session_factory(db_url)
    ids = scored_items(factory, [row("/a/one.wav"), row("/a/two.wav", label="bonafide", confidence=0.3,
                                                          flagged=True)])
    verdict(factory, ids["/a/one.wav"], "alice", "spoof", note="=HYPERLINK(\"http://x\")")
    verdict(factory, ids["/a/one.wav"], "bob", "bonafide", note="clean, \"quoted\"\nsecond line")
    verdict(factory, ids["/a/two.wav"], "alice", "unsure")
    yield factory, ids
    factory.kw["bind"].dispose()


def test_cli_exports_every_verdict_to_parquet_and_csv(reviewed, db_url, tmp_path, capsys):
    out = tmp_path / "v.parquet"
    assert main(["review", "export", str(out), "--db-url", db_url]) == 0
    assert "wrote 3 verdict(s)" in capsys.readouterr().out
    table = pq.read_table(out)
    assert table.schema.equals(SCHEMA)
    rows = table.to_pylist()
    assert [(r["uri"], r["reviewer"], r["verdict"]) for r in rows] == [
        ("/a/one.wav", "alice", "spoof"), ("/a/one.wav", "bob", "bonafide"), ("/a/two.wav", "alice", "unsure")]
    first = rows[0]
    assert first["note"] == '=HYPERLINK("http://x")'  # Parquet keeps text exactly
    assert first["model_version"] == "v1" and first["model_label"] == "spoof" and first["job_id"] == "job-1"
    assert first["reviewed_at"].tzinfo is not None and first["fingerprint"] == "fp-/a/one.wav"
    assert first["prob_bonafide"] == pytest.approx(0.1) and first["item_status"] in ("open", "decided")

    csv_out = tmp_path / "v.csv"
    assert main(["review", "export", str(csv_out), "--db-url", db_url, "--job", "job-1"]) == 0
    with open(csv_out, newline="") as handle:
        got = list(csv.DictReader(handle))
    assert len(got) == 3 and list(got[0]) == SCHEMA.names
    assert got[0]["note"] == "'=HYPERLINK(\"http://x\")"  # no formula when opened in a spreadsheet
    assert got[1]["note"] == 'clean, "quoted"\nsecond line'  # quoting and newlines survive
    assert not list(tmp_path.glob("*.partial"))
    assert query(db_url, "select count(*) from audit_events where action = 'review.export'") == [(2,)]


def test_cli_export_filters_and_one_line_errors(reviewed, db_url, tmp_path, capsys):
    assert main(["review", "export", str(tmp_path / "none.csv"), "--db-url", db_url, "--job", "job-9"]) == 0
    assert (tmp_path / "none.csv").read_text().count("\n") == 1  # the header only
    assert main(["review", "export", str(tmp_path / "later.csv"), "--db-url", db_url,
                 "--since", "2999-01-01"]) == 0
    capsys.readouterr()
    for argv, message in ((["x.xlsx"], "export format must be one of"),
                          ([str(tmp_path / "v.csv"), "--since", "yesterday"], "--since must be an ISO 8601"),
                          ([str(tmp_path / "no" / "v.csv")], "its folder does not exist")):
        assert main(["review", "export", *argv, "--db-url", db_url]) == 2
        assert message in capsys.readouterr().err


def test_dashboard_download_is_for_leads_and_gives_the_same_rows(reviewed, db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_DB_URL", db_url)
    at = app_as("alice", page="reviewers")
    assert not at.exception and not at.get("download_button")
    at = app_as("carol", role="lead", page="reviewers")
    assert not at.exception
    assert at.get("download_button")
    with session_scope(session_factory(db_url)) as s:
        data = verdicts_bytes(s, "parquet", actor="carol")
    assert pq.read_table(io.BytesIO(data)).num_rows == 3
