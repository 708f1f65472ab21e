"""One job launcher: the dashboard, the scheduler and `voxguard submit` map a Ray address to a Jobs API
the same way, and start local jobs through the same `cluster.submit.start_local`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cluster.submit import jobs_url_for_ray_address, start_local
from dashboard.launcher import cluster_address
from voxguard.errors import InputError


@pytest.mark.parametrize("address", ["10.0.0.5:6379", "ray://10.0.0.5:10001", "http://head:8265", "https://head/"])
def test_the_dashboard_uses_the_submit_rule_for_a_ray_address(address: str, tmp_path: Path) -> None:
    # Before, a GCS address made the dashboard run jobs locally while `submit` sent them to host:8265.
    assert cluster_address(address, tmp_path) == jobs_url_for_ray_address(address, tmp_path)
    assert cluster_address("10.0.0.5:6379", tmp_path) == "http://10.0.0.5:8265"


def test_no_ray_address_means_local_unless_ray_names_a_jobs_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    assert cluster_address("") is None
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:9999")
    assert cluster_address("") == "http://127.0.0.1:9999"


def test_start_local_runs_the_job_with_this_interpreter_and_appends_to_its_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("earlier\n")
    process = start_local("score", ["--help"], {"VOXGUARD_DB_URL": "sqlite:///unused.db"}, log_path=log)
    assert process.wait(timeout=120) == 0
    assert process.args[:4] == [sys.executable, "-m", "voxguard", "score"]
    text = log.read_text()
    assert text.startswith("earlier\n") and "usage: voxguard score" in text


def test_start_local_detaches_only_when_asked(tmp_path: Path) -> None:
    # Detached: the child leads its own session (survives the dashboard, ignores its Ctrl-C).
    detached = start_local("score", ["--help"], log_path=tmp_path / "a.log", detach=True)
    attached = start_local("score", ["--help"], log_path=tmp_path / "b.log", detach=False)
    try:
        assert os.getsid(detached.pid) == detached.pid
        assert os.getsid(attached.pid) == os.getsid(0)
    finally:
        assert detached.wait(timeout=120) == 0 and attached.wait(timeout=120) == 0


def test_start_local_refuses_an_unknown_kind() -> None:
    with pytest.raises(InputError, match="unknown job kind"):  # one line in the CLI, shown as-is by the dashboard
        start_local("rm", ["-rf", "/"])
