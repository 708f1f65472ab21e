"""Live progress, frequent commits and the job summary of `voxguard score` (issue 17, issue 15 leftovers)."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pyarrow.parquet as pq

from jobs.score.pipeline import run_scoring
from jobs.score.summary import format_summary
from tests.fixtures_score import ray_local, real_like, score_model, synthetic_like, write_clip  # noqa: F401
from voxguard.cli import main
from voxguard.settings import Settings

LINE = re.compile(r"^\[score\] (\d+)/(\d+) clips .* ETA ")


def _archive(folder, n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    for i in range(n):
        make = real_like if i % 2 else synthetic_like
        write_clip(folder / f"clip{i:03d}.wav", make(1.5, rng))
    return folder


def test_progress_counts_clips_as_they_are_scored_not_parts(tmp_path, score_model, ray_local) -> None:  # noqa: F811
    src = _archive(tmp_path / "in", 30)
    lines: list[str] = []
    summary = run_scoring(str(src), str(tmp_path / "out"), score_model, part_size=1000,
                          progress=lines.append, progress_every_s=0.0, progress_bar=False, settings=Settings.from_env())
    counts = [(int(m[1]), int(m[2])) for m in map(LINE.match, lines) if m]
    assert counts and all(total == 30 for _, total in counts)
    # One part of 1,000 rows would have shown 0/30 until the end: clips are counted as scored.
    assert any(0 < done < 30 for done, _ in counts), lines
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    assert counts[-1][0] == 30 and summary["rows"] == 30 and summary["parts_written"] == 1
    assert "clips/s" in lines[-1] and "x real-time" in lines[-1] and "h/s" in lines[-1]


def test_parts_are_committed_on_time_for_small_jobs(tmp_path, score_model, ray_local) -> None:  # noqa: F811
    """Resume granularity: with `commit_every_s` 0 every batch that arrives is committed,
    so a job smaller than one part does not restart from zero after a kill."""
    src = _archive(tmp_path / "in", 24, seed=1)
    summary = run_scoring(str(src), str(tmp_path / "out"), score_model, part_size=1000, commit_every_s=0.0,
                          progress=lambda _: None, settings=Settings.from_env())
    parts = sorted((tmp_path / "out").glob("*.parquet"))
    assert summary["parts_written"] == len(parts) > 1
    rows = pq.read_table(str(tmp_path / "out")).to_pylist()
    assert len(rows) == 24 and len({r["uri"] for r in rows}) == 24
    # A resumed run finds them all done.
    again = run_scoring(str(src), str(tmp_path / "out"), score_model, resume=True, progress=lambda _: None,
                        settings=Settings.from_env())
    assert again["skipped"] == 24 and again["rows"] == 0


def test_summary_counts_labels_review_items_and_points_to_the_dashboard(
    tmp_path, score_model, ray_local, monkeypatch, capsys  # noqa: F811
) -> None:
    src = _archive(tmp_path / "in", 12, seed=2)
    db = tmp_path / "feedback.db"
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VOXGUARD_DB_URL", f"sqlite:///{db}")
    assert main(["score", str(src), "--out", str(tmp_path / "out"), "--model", str(score_model)]) == 0
    out = capsys.readouterr().out
    rows = pq.read_table(str(tmp_path / "out")).to_pylist()
    labels = {k: sum(r["label"] == k for r in rows) for k in ("bonafide", "spoof", "inconclusive")}
    assert labels["bonafide"] and labels["spoof"] + labels["inconclusive"]  # the fixture model sees both kinds
    assert (f"verdicts: bona fide {labels['bonafide']}, spoof {labels['spoof']}, "
            f"inconclusive {labels['inconclusive']}") in out
    with sqlite3.connect(db) as conn:
        (items,) = conn.execute("select count(*) from review_items").fetchone()
    assert items > 0 and f"review items created: {items}" in out
    assert "next: voxguard dashboard" in out


def test_summary_without_database_has_no_review_hint() -> None:
    summary = {
        "job_id": "j", "model_version": "m", "source": "s", "dest": "d", "listed": 3, "skipped": 0, "scored": 3,
        "flagged": 1, "errors": 0, "audio_hours": 0.001, "wall_s": 1.0, "x_real_time": 3.6, "clips_per_s": 3.0,
        "labels": {"bonafide": 2, "spoof": 1}, "error_codes": {}, "top_suspicious": [], "changed_after_listing": 1,
    }
    text = format_summary(summary)
    assert "verdicts: bona fide 2, spoof 1, inconclusive 0" in text
    assert "changed between listing and reading" in text
    assert "review items created" not in text and "next: voxguard dashboard" not in text


def test_eta_follows_the_recent_rate_not_the_slow_first_calls(monkeypatch) -> None:
    """An actor's first calls are slow (warm-up): the ETA halfway must use the steady rate."""
    from jobs.score import progress as progress_module
    from jobs.score.progress import Progress
    from jobs.score.summary import JobStats

    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stats = JobStats(job_id="j", model_version="m", source="s", dest="d")
    reporter = Progress(stats, total=2000, emit=lambda _: None, every_s=1e9)
    stats.rows = 10
    reporter.update()  # the first scored clips: rates start here
    for _ in range(10):  # warm-up: 10 clips/s for 10 s
        clock[0] += 1.0
        stats.rows += 10
        reporter.update()
    for _ in range(40):  # then the steady rate: 22.5 clips/s
        clock[0] += 1.0
        stats.rows += 22.5
        reporter.update()
    assert stats.rows == 1010
    rates = reporter.rates()
    assert rates["clips_per_s"] == 22.5  # the later half of the 50 s only
    assert rates["eta_s"] == (2000 - 1010) / 22.5  # 44 s; the whole-job rate (20 clips/s) said 49.5 s
