"""Hostile folders: loops, dangling links, FIFOs, sockets, links leading out (issue 15, item 2).

Every entry must become exactly one row, under the name it was listed by, and
nothing that is not a regular file may ever be opened (a FIFO blocks forever).
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.score.pipeline import run_scoring
from jobs.score.sources import iter_objects
from voxguard.storage import NotRegularFile, StorageOptions, read_bytes
from tests.fixtures_score import ray_local, real_like, score_model, write_clip  # noqa: F401
from voxguard.settings import Settings


@pytest.fixture
def hostile(tmp_path):
    """clips/ with two good files and every kind of bad entry; outside/ next to it."""
    src, outside = tmp_path / "clips", tmp_path / "outside"
    rng = np.random.default_rng(3)
    write_clip(src / "good.wav", real_like(1.5, rng))
    write_clip(src / "sub" / "good2.wav", real_like(1.5, rng))
    write_clip(outside / "secret.wav", real_like(1.5, rng))
    os.symlink("b.wav", src / "a.wav")  # a loop: a -> b -> a
    os.symlink("a.wav", src / "b.wav")
    os.symlink("gone.wav", src / "dangling.wav")
    os.mkfifo(src / "y.wav")
    os.symlink(outside / "secret.wav", src / "escape.wav")
    os.symlink("good.wav", src / "alias.wav")  # a second name for a good file: its own row
    os.symlink(outside, src / "linked-folder")
    expected = {
        "good.wav": None, "sub/good2.wav": None, "alias.wav": None,
        "a.wav": "broken_link", "b.wav": "broken_link", "dangling.wav": "broken_link",
        "y.wav": "not_regular_file", "escape.wav": "outside_source", "linked-folder": "not_regular_file",
    }
    sock_path = src / "s.wav"
    if len(str(sock_path)) < 100:  # AF_UNIX path limit
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(sock_path))
        sock.close()
        expected["s.wav"] = "not_regular_file"
    return src, outside, expected


def _codes(objects, src) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    out: dict[str, str | None] = {}
    for obj in objects:
        name = os.path.relpath(obj.uri, src)
        assert name not in out, f"{name} listed twice"
        out[name] = obj.error.split(":", 1)[0] if obj.error else None
    return out


def test_listing_turns_every_bad_entry_into_a_row_under_its_own_name(hostile):
    src, _, expected = hostile
    assert _codes(iter_objects(str(src)), src) == expected
    # A glob lists the same entries (files only, folders excluded), with the same verdicts.
    by_glob = _codes(iter_objects(str(src / "*.wav")), src)
    assert by_glob == {k: v for k, v in expected.items() if k.endswith(".wav") and "/" not in k}


def test_a_fifo_is_refused_without_being_opened(hostile):
    src, _, _ = hostile
    with pytest.raises(NotRegularFile, match="fifo"):
        read_bytes(str(src / "y.wav"), StorageOptions())  # would block forever if it were opened
    (obj,) = iter_objects(str(src / "y.wav"))  # a FIFO given as the source itself
    assert obj.error.startswith("not_regular_file")


def test_configured_roots_turn_manifest_entries_outside_them_into_rows(hostile, tmp_path):
    src, outside, _ = hostile
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"uri\n{src / 'good.wav'}\n{outside / 'secret.wav'}\n/etc/passwd\n")
    rows = {o.uri: o.error for o in iter_objects(str(manifest), roots=[str(src), str(manifest)])}
    assert rows[str(src / "good.wav")] is None
    assert rows[str(outside / "secret.wav")].startswith("outside_roots")
    assert rows["/etc/passwd"].startswith("outside_roots")


def test_the_job_finishes_with_one_row_per_entry(hostile, tmp_path, score_model, ray_local):  # noqa: F811
    src, _, expected = hostile
    dest = tmp_path / "out"
    summary = run_scoring(str(src), str(dest), score_model, progress=lambda _: None,
                          settings=Settings.from_env(source_roots=str(src)))
    rows = pq.read_table(str(dest)).to_pylist()
    assert summary["rows"] == len(rows) == len(expected)
    got = {os.path.relpath(r["uri"], src): (r["error"].split(":", 1)[0] if r["error"] else None) for r in rows}
    assert got == expected
    good = {r["uri"]: r for r in rows if r["error"] is None}
    assert good[str(src / "alias.wav")]["fingerprint"] == good[str(src / "good.wav")]["fingerprint"]


def test_resume_reads_transient_error_rows_again_and_keeps_permanent_ones(tmp_path, score_model, ray_local):  # noqa: F811
    """A file missing at the first run is `unreadable`; once there, --resume scores it: one row per object."""
    rng = np.random.default_rng(4)
    clips = tmp_path / "clips"
    write_clip(clips / "here.wav", real_like(1.5, rng))
    (clips / "notes.wav").write_text("not audio\n")  # a permanent error: never retried
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("uri\nclips/here.wav\nclips/late.wav\nclips/notes.wav\n\nclips/here.wav\n")
    dest = tmp_path / "out"
    first = run_scoring(str(manifest), str(dest), score_model, progress=lambda _: None, settings=Settings.from_env())
    assert first["error_codes"] == {"unreadable": 1, "not_audio": 1} and first["rows"] == 3
    assert first["manifest_blank_rows"] == 1 and first["manifest_duplicate_rows"] == 1  # counted, not scored
    write_clip(clips / "late.wav", real_like(1.5, rng))  # the transient cause is gone
    again = run_scoring(str(manifest), str(dest), score_model, resume=True, progress=lambda _: None,
                        settings=Settings.from_env())
    assert again["retried_errors"] == 1 and again["skipped"] == 2 and again["rows"] == 1
    rows = pq.read_table(str(dest)).to_pylist()
    by_name = {os.path.basename(r["uri"]): r["error"] for r in rows}
    assert len(rows) == 3 and by_name["late.wav"] is None and by_name["notes.wav"].startswith("not_audio")


def test_manifest_blank_and_repeated_rows_are_counted_not_scored(hostile, tmp_path):
    from collections import Counter

    src, _, _ = hostile
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"uri\n{src / 'good.wav'}\n\n  \nclips/good.wav\n{src / 'good.wav'}\n{src / 'alias.wav'}\n")
    skipped: Counter = Counter()
    objects = list(iter_objects(str(manifest), skipped=skipped))
    assert [os.path.basename(o.uri) for o in objects] == ["good.wav", "alias.wav"]
    assert skipped == {"manifest_blank_rows": 2, "manifest_duplicate_rows": 2}
