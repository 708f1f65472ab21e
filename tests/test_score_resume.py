"""Kill-and-resume: SIGKILL the `voxguard score` driver mid-run, resume, every input exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.fixtures_score import real_like, score_model, synthetic_like, write_clip  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "voxguard", "score", *args]


def _parts(dest: Path) -> list[Path]:
    return sorted(p for p in dest.glob("part-*.parquet"))


def _kill_group(proc: subprocess.Popen) -> None:
    """Reap what is left of the killed run (its embedded Ray), which we started in its own session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sigkill_then_resume_scores_every_input_once(tmp_path, score_model) -> None:  # noqa: F811
    rng = np.random.default_rng(7)
    src = tmp_path / "clips"
    for i in range(30):
        make = real_like if i % 2 else synthetic_like
        write_clip(src / f"{i:02d}.wav", make(20.0, rng))
    dest = tmp_path / "out"
    # Small batches and parts so results arrive, and parts are written, a few clips at a time.
    args = [str(src), "--out", str(dest), "--model", str(score_model), "--part-size", "3", "--batch-size", "8"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    proc = subprocess.Popen(_cli(*args), cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _parts(dest) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.fail(f"the run ended before any part was seen: rc={proc.returncode} {proc.stderr.read().decode()[-2000:]}")
        assert _parts(dest), "no part written within the deadline"
        os.kill(proc.pid, signal.SIGKILL)  # the driver only, as a crash would
        proc.wait(timeout=30)
    finally:
        time.sleep(1.0)
        _kill_group(proc)
        proc.stderr.close()

    first = pq.read_table(str(dest)).column("uri").to_pylist()
    assert 0 < len(first) < 30, f"{len(first)} rows before the kill: the run was not interrupted"
    # Only whole parts are visible: each holds --part-size rows, or fewer when it was committed
    # on time (every 30 s) under a slow machine; never a torn file.
    sizes = [pq.read_metadata(p).num_rows for p in _parts(dest)]
    assert sum(sizes) == len(first) and all(1 <= n <= 3 for n in sizes)

    resumed = subprocess.run(_cli(*args, "--resume", "--json"), cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=300, start_new_session=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    table = pq.read_table(str(dest))
    counts = Counter(table.column("uri").to_pylist())
    assert set(counts) == {str((src / f"{i:02d}.wav").resolve()) for i in range(30)}
    assert set(counts.values()) == {1}
    assert len(set(table.column("job_id").to_pylist())) == 1  # the resumed run kept the job id
    assert all(e is None for e in table.column("error").to_pylist())
