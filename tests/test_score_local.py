"""Scoring job on local folders: verdicts, segments, bad inputs, resume."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile

from jobs.score.output import OUTPUT_SCHEMA
from jobs.score.pipeline import run_scoring
from tests.fixtures_score import RATE, ray_local, real_like, score_model, synthetic_like, write_clip  # noqa: F401
from voxguard.settings import Settings


def _quiet(_: str) -> None:
    pass


def _read(dest) -> list[dict]:  # type: ignore[no-untyped-def]
    return pq.read_table(str(dest)).to_pylist()


def test_folder_scoring_one_row_per_file(tmp_path, score_model, ray_local) -> None:  # noqa: F811
    rng = np.random.default_rng(1)
    src = tmp_path / "clips"
    for i in range(6):
        write_clip(src / f"real{i}.wav", real_like(2.5, rng))
        write_clip(src / "sub" / f"fake{i}.flac", synthetic_like(2.5, rng))
    seen: list[dict] = []
    first = run_scoring(
        str(src), str(tmp_path / "out"), score_model, limit=5, part_size=5, on_rows=seen.extend, progress=_quiet,
        settings=Settings.from_env()
    )
    assert first["rows"] == 5 and first["parts_written"] == 1 and len(seen) == 5
    # --resume picks up the rest (and keeps the job id).
    summary = run_scoring(
        str(src), str(tmp_path / "out"), score_model, resume=True, part_size=5, on_rows=seen.extend, progress=_quiet,
        settings=Settings.from_env()
    )
    assert summary["job_id"] == first["job_id"] and summary["skipped"] == 5

    rows = _read(tmp_path / "out")
    assert pq.read_schema(next((tmp_path / "out").glob("*.parquet"))) == OUTPUT_SCHEMA
    assert len(rows) == 12 and len({r["uri"] for r in rows}) == 12
    assert summary["rows"] == summary["scored"] == 7 and summary["errors"] == 0
    assert summary["parts_written"] == 2 and len(seen) == 12
    assert abs((first["audio_hours"] + summary["audio_hours"]) * 3600 - 30.0) < 0.1
    for row in rows:
        assert row["error"] is None and row["fingerprint"].startswith("sha256:")
        assert row["sample_rate"] == RATE and row["channels"] == 1
        # 2.5 s with 1 s windows and 0.5 s hop: 4 windows, the last one flush with the end.
        assert [s["start_s"] for s in row["segments"]] == [0.0, 0.5, 1.0, 1.5]
        assert row["segments"][-1]["end_s"] == pytest.approx(2.5)
        assert row["job_id"] == summary["job_id"] and row["scored_at"] is not None
    by_kind = {k: [r["prob_bonafide"] for r in rows if k in r["uri"]] for k in ("real", "fake")}
    assert min(by_kind["real"]) > max(by_kind["fake"])  # the fixture model separates them
    assert all(r["flagged"] for r in rows if "fake" in r["uri"])
    top = first["top_suspicious"] + summary["top_suspicious"]
    assert len(top) == 12 and sorted(t["uri"] for t in top) == sorted(r["uri"] for r in rows)
    # The list is ordered most suspicious first: the fakes lead in each run's list.
    for run in (first, summary):
        kinds = ["fake" in t["uri"] for t in run["top_suspicious"]]
        assert kinds == sorted(kinds, reverse=True)

    # A second run into the same DEST must not silently duplicate rows.
    with pytest.raises(FileExistsError):
        run_scoring(str(src), str(tmp_path / "out"), score_model, progress=_quiet, settings=Settings.from_env())
    # --resume with nothing new: every object skipped, no new part.
    again = run_scoring(str(src), str(tmp_path / "out"), score_model, resume=True, progress=_quiet,
                        settings=Settings.from_env())
    assert again["skipped"] == 12 and again["rows"] == 0 and again["job_id"] == summary["job_id"]
    # A changed file is scored again (new fingerprint); the unchanged ones are not.
    write_clip(src / "real0.wav", real_like(3.0, rng))
    third = run_scoring(str(src), str(tmp_path / "out"), score_model, resume=True, progress=_quiet,
                        settings=Settings.from_env())
    assert third["skipped"] == 11 and third["rows"] == 1


def test_segments_locate_the_synthetic_part(tmp_path, score_model, ray_local) -> None:  # noqa: F811
    rng = np.random.default_rng(2)
    spliced = np.concatenate([real_like(8.0, rng), synthetic_like(8.0, rng)])
    write_clip(tmp_path / "in" / "spliced.wav", spliced)
    run_scoring(str(tmp_path / "in"), str(tmp_path / "out"), score_model, progress=_quiet, settings=Settings.from_env())
    (row,) = _read(tmp_path / "out")
    segs = row["segments"]
    first = [s["score"] for s in segs if s["end_s"] <= 8.0]
    last = [s["score"] for s in segs if s["start_s"] >= 8.0]
    assert len(first) >= 10 and len(last) >= 10
    assert np.mean(last) < np.mean(first)
    # Rank check (AUC): a synthetic-part window scores below a real-part one most of the time.
    auc = np.mean([[f > l for l in last] for f in first])
    assert auc > 0.75, auc
    assert row["flagged"] is True


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_bad_inputs_become_error_rows(tmp_path, score_model, ray_local, executor) -> None:  # noqa: F811
    rng = np.random.default_rng(3)
    src = tmp_path / "bad"
    src.mkdir()
    buf = io.BytesIO()
    soundfile.write(buf, real_like(3.0, rng), RATE, format="FLAC")
    (src / "truncated.flac").write_bytes(buf.getvalue()[:600])
    (src / "empty.wav").write_bytes(b"")
    (src / "photo.wav").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(rng.integers(0, 256, 4000, dtype=np.uint8)))
    write_clip(src / "tiny.wav", real_like(0.005, rng))
    write_clip(src / "multi.wav", np.tile(real_like(2.0, rng, 96000)[:, None], (1, 8)), 96000, subtype="FLOAT")
    write_clip(src / "long.flac", real_like(15 * 60, rng))
    write_clip(src / "ok.wav", real_like(2.0, rng))
    # Over the byte limit (a sparse file, so no disk is used): refused before being read.
    settings = Settings.from_env(max_file_bytes=40 * 1024 * 1024, executor=executor)
    with open(src / "huge.wav", "wb") as handle:
        handle.write(b"RIFF")
        handle.truncate(settings.max_file_bytes + 10)

    summary = run_scoring(str(src), str(tmp_path / "out"), score_model, settings=settings, progress=_quiet)
    rows = {r["uri"].rsplit("/", 1)[-1]: r for r in _read(tmp_path / "out")}
    assert len(rows) == 8 and summary["rows"] == 8 and summary["executor"] == executor
    assert rows["truncated.flac"]["error"].startswith("undecodable")
    assert rows["empty.wav"]["error"].startswith("empty")
    assert rows["photo.wav"]["error"].startswith("not_audio")
    assert rows["tiny.wav"]["error"].startswith("too_short")
    assert rows["huge.wav"]["error"].startswith("too_large") and rows["huge.wav"]["fingerprint"] is None
    for name in ("truncated.flac", "empty.wav", "photo.wav", "tiny.wav", "huge.wav"):
        assert rows[name]["score"] is None and rows[name]["segments"] == []
        assert rows[name]["model_version"] == rows["ok.wav"]["model_version"]
    multi = rows["multi.wav"]
    assert multi["error"] is None and multi["channels"] == 8 and multi["sample_rate"] == 96000
    assert multi["duration_s"] == pytest.approx(2.0)
    long = rows["long.flac"]
    assert long["error"] is None and long["duration_s"] == pytest.approx(900.0)
    # Whole-file coverage: windows span the full 15 minutes, nothing skipped.
    assert len(long["segments"]) == 1799 and long["segments"][-1]["end_s"] == pytest.approx(900.0)
    starts = np.array([s["start_s"] for s in long["segments"]])
    assert np.allclose(np.diff(starts), 0.5)
    assert summary["errors"] == 5 and summary["scored"] == 3
    assert summary["error_codes"] == {"undecodable": 1, "empty": 1, "not_audio": 1, "too_short": 1, "too_large": 1}


def test_concurrent_calls_in_one_actor_score_like_the_detector(tmp_path, score_model, ray_local) -> None:  # noqa: F811
    """On this 2-CPU Ray the default plan is one actor running two calls at once on threads;
    its scores must be the plain `Detector.score` ones, as must those of one single-call actor per core
    and of the local executor (the same calls on this process's threads)."""
    from siamese.detector import Detector

    rng = np.random.default_rng(7)
    src = tmp_path / "clips"
    for i in range(10):
        make = real_like if i % 2 else synthetic_like
        write_clip(src / f"clip{i}.wav", make(float(rng.uniform(1.0, 12.0)), rng))  # up to 23 windows: 2 pieces
    from siamese.package import ModelPackage

    # The engine `voxguard score` uses by default ("auto", resolved here as in the actors).
    detector = Detector(ModelPackage.load(score_model), device="cpu", engine=Settings.from_env().engine)
    expected = {str(p): detector.score(p).score for p in sorted(src.iterdir())}
    for executor, actors, dest in (("ray", None, "threads"), ("ray", 2, "per-core"), ("local", None, "in-process")):
        summary = run_scoring(str(src), str(tmp_path / dest), score_model, num_actors=actors, progress=_quiet,
                              settings=Settings.from_env(executor=executor))
        assert summary["executor"] == executor
        got = {r["uri"]: r["score"] for r in _read(tmp_path / dest)}
        assert got.keys() == expected.keys()
        assert max(abs(got[u] - expected[u]) for u in got) < 1e-4, actors
