"""PostgreSQL stops mid-job (issue 15): the job exits non-zero without hanging, and --resume
brings the review queue back in line with the Parquet output (no flagged clip lost)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import pg_server
from dashboard_support import query
from tests.fixtures_score import real_like, score_model, synthetic_like, write_clip  # noqa: F401

PG_BIN = Path("/usr/lib/postgresql/15/bin")
STOP_BEFORE_PART = 3  # the database write of this part meets a stopped server

# The real CLI, with the real feedback sink; the only addition is the fault: before the
# N-th part reaches the database, the PostgreSQL server is shut down (pg_ctl stop).
SCRIPT = """
import subprocess, sys
from jobs.score.feedback_sink import FeedbackSink
from voxguard.cli import main

stop_cmd, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
real_on_rows, calls = FeedbackSink.on_rows, []

def on_rows(self, rows):
    calls.append(1)
    if len(calls) == n:
        subprocess.run(stop_cmd, shell=True, check=True)
    return real_on_rows(self, rows)

FeedbackSink.on_rows = on_rows
sys.exit(main(argv))
"""


def _pg_ctl(directory: Path, action: str, port: int | None = None) -> str:
    data = Path((directory / "datadir").read_text().strip())
    options = (f' -o "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={data} -c fsync=off"'
               if port else "")
    as_owner = "runuser -u postgres -- " if os.geteuid() == 0 else ""
    return f'{as_owner}{PG_BIN}/pg_ctl -D {data}/pgdata -l {data}/server.log -m fast -w -t 30{options} {action}'


@pytest.mark.skipif(not (PG_BIN / "pg_ctl").exists(), reason="needs PostgreSQL 15 binaries")
def test_database_outage_mid_job_fails_cleanly_and_resume_restores_the_queue(tmp_path, score_model):  # noqa: F811
    rng = np.random.default_rng(9)
    src, dest = tmp_path / "clips", tmp_path / "out"
    for i in range(4):
        write_clip(src / f"real{i}.wav", real_like(1.5, rng))
        write_clip(src / f"fake{i}.wav", synthetic_like(1.5, rng))
    directory = tmp_path / "pg"
    directory.mkdir()
    url = pg_server.start(directory)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    env = {**os.environ, "VOXGUARD_DB_URL": url}
    score = ["score", str(src), "--out", str(dest), "--model", str(score_model), "--part-size", "1"]
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, _pg_ctl(directory, "stop"), str(STOP_BEFORE_PART),
                               *score], env=env, capture_output=True, text=True, timeout=600)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert last.startswith("error: the feedback database failed") and "--resume" in last
        assert "Traceback" not in proc.stderr
        parts = list(dest.glob("part-*.parquet"))
        assert len(parts) >= STOP_BEFORE_PART  # that part was written before its rows met the stopped server

        subprocess.run(_pg_ctl(directory, "start", port), shell=True, check=True, capture_output=True)
        assert query(url, "select count(*) from scores") == [(STOP_BEFORE_PART - 1,)]  # one part never recorded
        resumed = subprocess.run([sys.executable, "-m", "voxguard", *score, "--resume"], env=env,
                                 capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-3000:]

        rows = pq.read_table(str(dest)).to_pylist()
        assert len(rows) == 8 and len({r["uri"] for r in rows}) == 8
        flagged = {r["uri"] for r in rows if r["flagged"]}
        assert flagged  # the fakes
        queued = {u for (u,) in query(url, "select c.uri from review_items i join clips c on c.id = i.clip_id "
                                           "join scores s on s.clip_id = c.id and s.flagged")}
        assert queued == flagged
        job = query(url, "select status, n_total, n_flagged from scoring_jobs")
        assert job == [("done", 8, len(flagged))]
    finally:
        subprocess.run(_pg_ctl(directory, "stop"), shell=True, capture_output=True)
        pg_server.stop(directory)
