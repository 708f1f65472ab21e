"""Kill a `voxguard train` run after its first checkpoints, re-run it, and check it resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from train_tiny import write_tiny_corpus  # noqa: E402

EPOCHS = 4


def _command(manifest: Path, root: Path) -> list[str]:
    return [
        sys.executable, "-m", "voxguard", "train", "--manifest", str(manifest), "--out", str(root / "model.vxpkg"),
        "--epochs", str(EPOCHS), "--batch-size", "8", "--batches-per-epoch", "120", "--patience", "99",
        "--num-workers", "1", "--channels", "4,8", "--window-s", "0.5", "--frontend", "logmel",
        "--storage-path", str(root / "runs"), "--name", "resume-test", "--cache-dir", str(root / "cache"),
        "--devset", str(root / "no-devset"),
    ]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the driver and everything in its session (local Ray daemons and workers included)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def test_killed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    manifest = write_tiny_corpus(tmp_path / "corpus")
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    run_dir = tmp_path / "runs" / "resume-test"
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(_command(manifest, tmp_path), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 150
        # epoch-0001 on disk means epoch-0000 is fully registered: a resume must start at 1 or later.
        while not (run_dir / "epoch-0001").exists():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.time() < deadline, "no checkpoint within 150 s"
            time.sleep(0.2)
    finally:
        _kill_group(first)
    assert not (tmp_path / "model.vxpkg").exists(), "the first run finished before it could be killed"

    second = subprocess.run(_command(manifest, tmp_path), capture_output=True, text=True, env=env, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout[second.stdout.index("\n{") + 1 :] if not second.stdout.startswith("{") else second.stdout)
    assert summary["resumed_from_epoch"] >= 1
    assert [h["epoch"] for h in summary["history"]] == list(range(EPOCHS))  # history carried over, no epoch repeated
    assert Path(summary["package"]).exists()
