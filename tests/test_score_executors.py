"""Where scoring runs (`jobs.score.executors`): the `auto` rule, and the local executor's
accounting and clean stop. Score parity with Ray and the detector is in test_score_local.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.score.executors import resolve_executor
from jobs.score.pipeline import run_scoring
from tests.fixtures_score import real_like, score_model, synthetic_like, write_clip  # noqa: F401
from voxguard.cli import main
from voxguard.errors import ConfigError
from voxguard.settings import Settings


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.mark.parametrize(
    ("cpus", "gpu", "address", "actors", "expected"),
    [
        (2, False, "", 0, "local"),  # Ray would run one CPU actor: the same calls, here
        (1, False, "", None, "local"),
        (4, False, "", 0, "ray"),  # two actors: processes beat one GIL
        (2, True, "", 0, "ray"),  # GPU actors fed by decode tasks
        (2, False, "10.0.0.5:6379", 0, "ray"),  # a cluster
        (2, False, "", 2, "ray"),  # an explicit actor pool is a Ray plan
    ],
)
def test_auto_runs_here_only_where_ray_would_run_one_cpu_actor(cpus, gpu, address, actors, expected) -> None:
    settings = Settings.from_env(environ={}, ray_address=address)
    assert resolve_executor("auto", settings, actors, cpus=cpus, gpu=gpu) == expected


def test_explicit_choices_win_and_contradictions_are_refused() -> None:
    here = Settings.from_env(environ={})
    assert resolve_executor("ray", here, None, cpus=1, gpu=False) == "ray"
    assert resolve_executor("local", here, None, cpus=64, gpu=True) == "local"
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        resolve_executor("dask", here, None)
    cluster = Settings.from_env(environ={}, ray_address="10.0.0.5:6379")
    with pytest.raises(ConfigError, match="cannot run on the Ray cluster"):
        resolve_executor("local", cluster, None)


def test_the_cli_refuses_local_on_a_cluster_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clips").mkdir()
    code = main(["score", str(tmp_path / "clips"), "--out", str(tmp_path / "out"), "--no-feedback",
                 "--executor", "local", "--ray-address", "10.0.0.5:6379"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot run on the Ray cluster" in err[0], err


def _clips(folder: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        make = real_like if i % 2 else synthetic_like
        write_clip(folder / f"clip{i:02d}.wav", make(float(rng.uniform(1.0, 3.0)), rng))


def test_local_executor_accounts_for_every_object_across_many_calls(tmp_path: Path, score_model: Path) -> None:  # noqa: F811
    """More blocks than threads and queue slots, one unreadable object among them: one row each."""
    src = tmp_path / "clips"
    _clips(src, 37, seed=5)
    (src / "broken.wav").write_bytes(b"RIFF not really")
    helpers_before = _alive("voxguard-decode")
    lines: list[str] = []
    summary = run_scoring(str(src), str(tmp_path / "out"), score_model, part_size=10, progress=lines.append,
                          progress_every_s=0.0, settings=Settings.from_env(executor="local"))
    rows = pq.read_table(str(tmp_path / "out")).to_pylist()
    assert sorted(r["uri"].rsplit("/", 1)[-1] for r in rows) == sorted(p.name for p in src.iterdir())
    assert summary["executor"] == "local" and summary["rows"] == 38 and summary["errors"] == 1
    assert summary["parts_written"] == 4
    assert "executor local" in lines[0]
    # Counted as scored: intermediate counts appear before the end.
    counts = [int(line.split()[1].split("/")[0]) for line in lines if line.startswith("[score] ") and "/38 clips" in line]
    assert counts[-1] == 38 and any(0 < c < 38 for c in counts)
    # The job's threads and their decode helpers are gone: a process running many jobs does not collect them.
    assert _alive("voxguard-score") == 0
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and _alive("voxguard-decode") > helpers_before:
        time.sleep(0.05)
    assert _alive("voxguard-decode") <= helpers_before


def _alive(prefix: str) -> int:
    return sum(t.name.startswith(prefix) for t in threading.enumerate())


def test_local_executor_stops_its_threads_when_the_driver_fails(tmp_path: Path, score_model: Path) -> None:  # noqa: F811
    """An error in the driver (here the sink after the first part) ends the job with that error
    and leaves no scoring thread running behind it."""
    src = tmp_path / "clips"
    _clips(src, 30, seed=6)

    def sink(rows: list[dict]) -> None:
        raise RuntimeError("the sink broke")

    with pytest.raises(RuntimeError, match="the sink broke"):
        run_scoring(str(src), str(tmp_path / "out"), score_model, part_size=4, on_rows=sink,
                    progress=lambda _: None, settings=Settings.from_env(executor="local"))
    assert _alive("voxguard-score") == 0
