"""A real local Ray head in its own processes, driven through the Jobs API.

One head serves the whole module (starting one costs a few seconds on two cores);
every port is a free one, so parallel runs on this machine never clash.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cluster import head, jobs_api
from cluster.local import MIN_OBJECT_STORE_BYTES, init_ray, shutdown_ray
from cluster.runtime_env import build_runtime_env
from cluster.submit import job_entrypoint, submit_entrypoint
from voxguard.cli import main
from voxguard.settings import REPO_ROOT, Settings

# Budget for the whole module: about 2 min on a quiet machine; fail instead of hanging.
pytestmark = pytest.mark.timeout(300)

# Runs on the cluster: proves the job imports the uploaded checkout (not /work/main),
# sees forwarded settings, and can write Parquet where the test can read it.
PROBE = """
import os, sys, pyarrow as pa, pyarrow.parquet as pq, voxguard
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
pq.write_table(pa.table({
    "voxguard_file": [voxguard.__file__],
    "cwd": [os.getcwd()],
    "has_venv": [os.path.exists(".venv")],
    "has_tests": [os.path.exists("tests")],
    "has_configs": [os.path.exists("cluster/configs/aws-gpu.yaml")],
    "s3_endpoint": [os.environ.get("VOXGUARD_S3_ENDPOINT", "")],
}), os.path.join(out, "part-0.parquet"))
print("probe wrote", out)
"""


def job_entrypoint_for(out_dir: Path) -> str:
    """The job under test. When `voxguard score` lands, this becomes e.g.
    `return job_entrypoint("score", [AUDIO_DIR, "--output", str(out_dir)])`."""
    return f"python -c {shlex.quote(PROBE)} {shlex.quote(str(out_dir))}"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path_factory.mktemp("vg-data"))


@pytest.fixture(scope="module")
def local_head(settings: Settings) -> Iterator[head.HeadState]:
    state = head.start_head(
        settings.data_dir, num_cpus=2, dashboard_port=0, object_store_memory=2 * MIN_OBJECT_STORE_BYTES
    )
    try:
        yield state
    finally:
        head.stop_head(settings.data_dir)


def test_head_refuses_a_second_start(local_head: head.HeadState, settings: Settings) -> None:
    assert head.dashboard_ready(local_head.dashboard_url)
    with pytest.raises(RuntimeError, match="already running"):
        head.start_head(settings.data_dir, dashboard_port=0)


def test_job_runs_this_checkout_and_writes_parquet(
    local_head: head.HeadState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGUARD_S3_ENDPOINT", "http://127.0.0.1:9")
    out = tmp_path / "scores"
    submission_id = submit_entrypoint(
        job_entrypoint_for(out),
        local_head.dashboard_url,
        build_runtime_env(),
        metadata={"voxguard_kind": "probe"},
    )
    status = jobs_api.wait_for_job(submission_id, local_head.dashboard_url, timeout_s=60)
    logs = jobs_api.job_logs(submission_id, local_head.dashboard_url)
    assert status == "SUCCEEDED", logs
    assert f"probe wrote {out}" in logs

    row = pq.read_table(out).to_pylist()[0]
    # The uploaded copy under the head's session dir, not the source tree.
    assert row["voxguard_file"].startswith(local_head.temp_dir)
    assert not row["voxguard_file"].startswith(str(REPO_ROOT) + os.sep)
    assert row["has_configs"] and not row["has_venv"] and not row["has_tests"]
    assert row["s3_endpoint"] == "http://127.0.0.1:9"

    listed = {j["submission_id"]: j for j in jobs_api.list_jobs(local_head.dashboard_url)}
    assert listed[submission_id]["status"] == "SUCCEEDED"
    assert listed[submission_id]["metadata"] == {"voxguard_kind": "probe"}


def test_scoring_job_through_the_jobs_api(local_head: head.HeadState, tmp_path: Path) -> None:
    """The product's main job submitted to the head: `voxguard score` runs there and writes Parquet."""
    clips = tmp_path / "clips"
    clips.mkdir()
    examples = sorted((REPO_ROOT / "examples" / "clips").iterdir())[:3]
    for path in examples:
        shutil.copy(path, clips / path.name)
    out = tmp_path / "scores"
    model = REPO_ROOT / "models" / "voxguard-default.vxpkg"
    submission_id = submit_entrypoint(
        job_entrypoint("score", [str(clips), "--out", str(out), "--model", str(model), "--no-feedback"]),
        local_head.dashboard_url,
        build_runtime_env(),
    )
    status = jobs_api.wait_for_job(submission_id, local_head.dashboard_url, timeout_s=150)
    logs = jobs_api.job_logs(submission_id, local_head.dashboard_url)
    assert status == "SUCCEEDED", logs
    rows = pq.read_table(out).to_pylist()
    assert sorted(Path(r["uri"]).name for r in rows) == [p.name for p in examples]
    assert all(r["error"] is None and r["label"] in {"bonafide", "spoof", "inconclusive"} for r in rows)
    assert "scored" in logs  # the job's summary table reached the job logs


def test_stop_a_running_job(local_head: head.HeadState) -> None:
    url = local_head.dashboard_url
    submission_id = submit_entrypoint("sleep 120", url, runtime_env={})
    deadline = time.monotonic() + 30
    while jobs_api.job_status(submission_id, url) != "RUNNING":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.3)
    assert jobs_api.stop_job(submission_id, url)
    assert jobs_api.wait_for_job(submission_id, url, timeout_s=30) == "STOPPED"
    with pytest.raises(TimeoutError):
        jobs_api.wait_for_job(submit_entrypoint("sleep 30", url, {}), url, timeout_s=0.5)


def test_cli_submit_and_jobs(
    local_head: head.HeadState, settings: Settings, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = local_head.dashboard_url
    # --wait follows the driver log to the end; the exit code is the job's
    # (`voxguard score` may not exist yet in this checkout, hence 0 or 1).
    code = main(["submit", "score", "--address", url, "--no-ship-code", "--wait", "--", "--help"])
    out = capsys.readouterr().out
    submission_id = out.splitlines()[0]
    assert submission_id.startswith("raysubmit_")
    status = "SUCCEEDED" if code == 0 else "FAILED"
    assert f"job {submission_id}: {status}" in out
    assert main(["jobs", "status", submission_id, "--address", url]) == 0
    assert capsys.readouterr().out.splitlines()[0] == status
    assert main(["jobs", "list", "--address", url]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith(submission_id))
    assert "python -m voxguard score --help" in line
    assert main(["jobs", "logs", submission_id, "--address", url]) == 0
    assert "voxguard" in capsys.readouterr().out

    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(settings.data_dir))
    assert main(["cluster", "status"]) == 0
    out = capsys.readouterr().out
    assert url in out and local_head.gcs_address in out


def test_driver_joins_the_head_through_init_ray(local_head: head.HeadState) -> None:
    try:
        handle = init_ray(local_head.gcs_address)
        assert not handle.embedded
        assert handle.resources["CPU"] == 2.0
    finally:
        shutdown_ray()


def test_down_stops_every_process(local_head: head.HeadState, settings: Settings) -> None:
    assert head.stop_head(settings.data_dir)
    assert not head._pid_alive(local_head.pid)
    # Nothing of this head runs any more. Exited orphans may stay zombies until
    # init reaps them (when it does is up to the machine's init); the leader was
    # our child and must be reaped.
    states = _group_states(local_head.pid)
    assert all(state == "Z" for state in states.values()), states
    assert local_head.pid not in states
    assert head.read_state(settings.data_dir) is None
    assert not Path(local_head.temp_dir).exists()
    assert not head.stop_head(settings.data_dir)


def _group_states(pgid: int) -> dict[int, str]:
    """pid -> state letter of every process in a process group (from /proc)."""
    states = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields: state, ppid, pgrp, ...
            states[int(entry.name)] = fields[0]
    return states
