"""Every job reaches the cluster the same way: one Ray start-up, one job launcher.

A real local head (token auth on, as `voxguard cluster up` starts it) serves the
module; the training and corpus commands must join it through VOXGUARD_RAY_ADDRESS
(read once by the command and passed down in the job's config), and a scheduled
retraining must be accepted by its Jobs API.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import head, jobs_api
from cluster.local import MIN_OBJECT_STORE_BYTES, init_ray, shutdown_ray
from cluster.submit import jobs_url_for_ray_address
from voxguard.errors import ConfigError
from voxguard.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def local_head() -> Iterator[head.HeadState]:
    # The session's data dir (tests/conftest.py): the state file is where every command looks.
    settings = Settings.from_env()
    state = head.start_head(settings.data_dir, num_cpus=2, dashboard_port=0, object_store_memory=2 * MIN_OBJECT_STORE_BYTES)
    try:
        yield state
    finally:
        head.stop_head(settings.data_dir)


def _joined(state: head.HeadState) -> None:
    import ray

    # Same GCS port (Ray reports the node's own IP rather than 127.0.0.1).
    assert ray.get_runtime_context().gcs_address.rsplit(":", 1)[1] == state.gcs_address.rsplit(":", 1)[1]
    assert ray.cluster_resources()["CPU"] == 2.0  # the head's, not this machine's


def test_training_start_up_joins_the_configured_cluster(local_head: head.HeadState,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.train.trainer import _ensure_ray
    from voxguard.cli import build_parser
    from voxguard.commands.train import job_config

    monkeypatch.setenv("VOXGUARD_RAY_ADDRESS", local_head.gcs_address)
    args = build_parser().parse_args(["train", "--manifest", "unused.parquet", "--out", "unused.vxpkg"])
    config = job_config(args, Settings.from_env())  # what `voxguard train` hands the job
    assert config.ray_address == local_head.gcs_address
    shutdown_ray()  # a Ray another test left in this process would be reused, not started
    try:
        _ensure_ray(dataclasses.replace(config, verbose=False))
        _joined(local_head)
    finally:
        shutdown_ray()


def test_corpus_start_up_joins_the_configured_cluster(local_head: head.HeadState, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.corpus.build import _ensure_ray
    from voxguard.cli import build_parser
    from voxguard.commands.corpus import build_config

    monkeypatch.setenv("VOXGUARD_RAY_ADDRESS", local_head.gcs_address)
    args = build_parser().parse_args(["corpus", "build", "--bonafide", str(tmp_path), "--out", str(tmp_path / "c")])
    config = build_config(args, Settings.from_env())  # what `voxguard corpus build` hands the job
    shutdown_ray()
    try:
        _ensure_ray(config)
        _joined(local_head)
    finally:
        shutdown_ray()


def test_a_jobs_url_is_refused_as_a_ray_address_with_one_line(local_head: head.HeadState) -> None:
    with pytest.raises(ConfigError, match="Jobs API"):
        init_ray(local_head.dashboard_url)


def test_the_ray_address_names_the_jobs_api(local_head: head.HeadState) -> None:
    # The head `voxguard cluster up` recorded under the command's data dir has its own dashboard port.
    assert jobs_url_for_ray_address(local_head.gcs_address, Settings.from_env().data_dir) == local_head.dashboard_url
    assert jobs_url_for_ray_address("ray://10.0.0.5:10001") == "http://10.0.0.5:8265"
    assert jobs_url_for_ray_address("10.0.0.5:6379") == "http://10.0.0.5:8265"
    assert jobs_url_for_ray_address("https://ray.example/") == "https://ray.example"


def test_scheduled_retraining_is_accepted_by_a_token_auth_head(local_head: head.HeadState, tmp_path: Path) -> None:
    """`voxguard scheduler --once` in a fresh process (no token enabled beforehand) submits the run."""
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VOXGUARD_DB_URL": url,
           "VOXGUARD_RAY_ADDRESS": local_head.gcs_address}
    env.pop("RAY_AUTH_MODE", None)

    def voxguard(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "voxguard", *args], env=env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout

    voxguard("db", "upgrade")
    assert "retraining requested (run 1)" in voxguard("policy", "request", "--reason", "test")
    # The scheduler takes retrain's options and hands them to the run it launches.
    assert "launched retraining run 1" in voxguard("scheduler", "--once", "--epochs", "2", "--batches-per-epoch", "3")

    jobs = [j for j in jobs_api.list_jobs(local_head.dashboard_url)
            if str(j["submission_id"]).startswith("voxguard-retrain-1-")]
    assert len(jobs) == 1, jobs
    assert jobs[0]["metadata"] == {"voxguard_kind": "retrain"}
    assert str(jobs[0]["entrypoint"]).endswith("voxguard retrain --run-id 1 --epochs 2 --batches-per-epoch 3")
    # The run was not marked "launch failed" (what a 401 from the head would have done).
    from feedback.db import session_factory
    from feedback.models import RetrainRun

    with session_factory(url)() as session:
        run = session.get(RetrainRun, 1)
        assert run is not None and not (run.error or "").startswith("launch failed"), run.error
    jobs_api.stop_job(str(jobs[0]["submission_id"]), local_head.dashboard_url)
    deadline = time.monotonic() + 60
    while jobs_api.job_status(str(jobs[0]["submission_id"]), local_head.dashboard_url) not in jobs_api.TERMINAL:
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_rays_own_cli_works_against_our_head_with_the_printed_lines(local_head: head.HeadState, tmp_path: Path) -> None:
    """`ray job submit` / `ray job list` as a Ray user types them, with what `voxguard cluster up` prints."""
    from voxguard.commands.cluster import describe_head

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    ray_cli = str(Path(sys.executable).with_name("ray"))

    def ray(*args: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ray_cli, *args], env={**env, **extra}, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)

    url = local_head.dashboard_url
    # Without the printed export, Ray's CLI is refused by the token-auth head (what users hit before).
    refused = ray("job", "list", "--address", url, extra={})
    assert refused.returncode != 0 and "token" in (refused.stdout + refused.stderr).lower()

    printed = describe_head(local_head)
    start = next(i for i, line in enumerate(printed) if "Ray's own CLI:" in line)
    lines = [printed[start].split("Ray's own CLI:", 1)[1].strip(), *(line.strip() for line in printed[start + 1:])]
    assert lines[0].startswith("export RAY_AUTH_MODE=token") and ".ray/auth_token" in lines[0]
    exported = dict(item.split("=", 1) for item in lines[0].split("#")[0].split()[1:])
    assert f"--address {url}" in lines[1] and lines[2] == f"ray job list --address {url}"
    submitted = ray("job", "submit", "--address", url, "--submission-id", "ray-cli-probe", "--",
                    sys.executable, "-c", "print('hello from ray job submit')", extra=exported)
    assert submitted.returncode == 0, submitted.stderr
    assert "hello from ray job submit" in submitted.stdout + submitted.stderr  # submit follows the job's logs
    listed = ray("job", "list", "--address", url, extra=exported)
    assert listed.returncode == 0 and "ray-cli-probe" in listed.stdout + listed.stderr, listed.stderr
    assert jobs_api.job_status("ray-cli-probe", url) == "SUCCEEDED"
