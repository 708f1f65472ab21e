"""The README's retraining journey through the CLI, from a state like a fresh clone's:

score -> `review list` / `review verdict` -> `retrain` refused in one line while feedback is short
-> `policy request` -> `scheduler --once` with retrain's options runs the job (progress lines,
the gate's decision and why) -> `models list` / `policy runs` show it; then a scheduled run that
fails is shown by `policy show` with the retry rule.

The champion is a tiny network trained on the tiny synthetic corpus, and its corpus manifest is
deleted afterwards: the model names a corpus that is "not built here", as the bundled model's
`var/corpus/manifest.parquet` is on a fresh clone, so the job must fall back to the bundled sample
set and say so. One epoch of three batches keeps the run cheap; the test checks the journey's
wiring and messages, not the challenger's quality (tests/test_feedback_loop.py does that).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alert_receiver import receiver

ray = pytest.importorskip("ray")

from jobs.train.config import TrainJobConfig  # noqa: E402
from jobs.train.trainer import train  # noqa: E402
from siamese.package_meta import read_meta_without_torch  # noqa: E402
from train_tiny import tiny_model_config, write_new_channel_archive, write_tiny_corpus  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_retraining_journey_through_the_cli(tmp_path: Path) -> None:
    manifest = write_tiny_corpus(tmp_path / "corpus", per_split=40)
    ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        champion = train(TrainJobConfig(
            manifest=manifest, out=tmp_path / "champion.vxpkg", model=tiny_model_config(), epochs=6,
            batch_size=16, batches_per_epoch=30, lr=3e-3, num_workers=1, seed=0,
            storage_path=str(tmp_path / "runs"), name="champion", resume=False,
            cache_dir=tmp_path / "var" / "cache" / "decoded", devset=None, verbose=False,
            operating_point="frr", target_frr=0.1,  # the challenger must inherit this policy
        ))
    finally:
        ray.shutdown()
    manifest.unlink()  # the model's corpus is "not built here"
    archive = tmp_path / "archive"
    write_new_channel_archive(archive, 12)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VOXGUARD_DATA_DIR": str(tmp_path / "var"),
           "VOXGUARD_DB_URL": f"sqlite:///{tmp_path / 'feedback.db'}", "VOXGUARD_MODEL": str(champion.package_path),
           "VOXGUARD_REVIEWER_PASSWORD": "lead-password"}
    for key in ("VOXGUARD_RAY_ADDRESS", "RAY_ADDRESS"):
        env.pop(key, None)

    transcript = []

    def voxguard(*args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "voxguard", *args], env=env, capture_output=True, text=True,
                              timeout=600, cwd=tmp_path)
        transcript.append(f"$ voxguard {' '.join(args)}\n{done.stdout}{done.stderr}")
        assert done.returncode == rc, (args, done.stdout, done.stderr)
        return done

    with receiver() as rx:
        try:
            _journey(voxguard, tmp_path, archive, rx.url)
        finally:
            (tmp_path / "transcript.txt").write_text("\n".join(transcript))  # what a user would have seen
    # The webhooks fired along the way, from the real commands.
    events = rx.events()
    assert events[0] == "score.finished" and "retrain.finished" in events and events[-1] == "retrain.failed", events


def _journey(voxguard, tmp_path: Path, archive: Path, hook_url: str) -> None:  # noqa: ANN001 - the helper above
    voxguard("alerts", "add", hook_url, "--secret", "s3cret", "--event", "score.finished",
             "--event", "retrain.finished", "--event", "retrain.failed")
    voxguard("score", str(archive), "--out", str(tmp_path / "scores"))
    voxguard("review", "reviewers", "add", "lead", "--role", "lead")
    listed = voxguard("review", "list", "--limit", "100").stdout.splitlines()
    queued = [line.split()[-1] for line in listed[2:]]  # a count line, a header, then one row per item
    assert len(queued) >= 6, listed

    # Two verdicts are not enough: refused before anything is recorded or trained, in one line.
    for uri in queued[:2]:
        voxguard("review", "verdict", uri, "--as", "bonafide", "--reviewer", "lead")
    refused = voxguard("retrain", "--epochs", "1", rc=2)
    assert refused.stderr.startswith("voxguard: error: only 2 clips have a verified verdict") and \
        refused.stderr.count("\n") == 1, refused.stderr
    assert "no retraining runs yet" in voxguard("policy", "runs").stdout

    for uri in queued[2:]:
        voxguard("review", "verdict", uri, "--as", "bonafide", "--reviewer", "lead")
    requested = voxguard("policy", "request", "--reason", "journey").stdout
    assert "`voxguard scheduler`" in requested and "must be running" in requested
    done = voxguard("scheduler", "--once", "--epochs", "1", "--batches-per-epoch", "3")
    progress = done.stderr  # the launched `voxguard retrain` prints to the scheduler's terminal
    assert "the model's corpus" in progress and "bundled sample set" in progress and "make corpus" in progress
    assert "epoch 1/1  loss " in progress and "dev EER" in progress, progress
    out = done.stdout
    assert out.count("run 1 (manual") == 1 and ": succeeded" in out, out
    assert ("promoted " in out or "kept " in out) and "why: " in out, out
    assert "base data: bundled sample set" in out, out
    assert ("promoted" in out) == ("production" in voxguard("models", "list").stdout.splitlines()[1]), out
    assert "why: " in voxguard("policy", "runs").stdout
    (challenger_path,) = (tmp_path / "var" / "models").glob("*.vxpkg")  # named by its version
    challenger = read_meta_without_torch(challenger_path)
    assert challenger.operating_point.method == "frr" and challenger.training["target_frr"] == 0.1

    # A scheduled run that fails: shown by `policy runs` / `policy show`, with the retry rule.
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,split,generator\nx.flac,maybe,train,g\n")
    voxguard("policy", "request")
    failed = voxguard("scheduler", "--once", "--manifest", str(bad), "--epochs", "1")
    assert "voxguard: error: the base training manifest cannot be used" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr and "epoch 1/1" not in failed.stderr  # refused before training
    assert failed.stdout.startswith("run 2 failed: the base training manifest cannot be used") and \
        "automatic triggers wait 1 h" in failed.stdout, failed.stdout
    shown = voxguard("policy", "show").stdout
    assert "last run: run 2" in shown and "failed" in shown and "unknown labels" in shown, shown
    assert "retry rule: after a failed run, automatic triggers wait 1 h" in shown, shown
