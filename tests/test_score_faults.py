"""Scoring-path faults of issue 15: a decoder that hangs, DC-only clips, objects changed after listing."""

from __future__ import annotations

import io
import os
import threading
import time

import boto3
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile

from jobs.score.pipeline import run_scoring
from jobs.score.sources import iter_objects
from jobs.score.stages import decode_item
from voxguard.storage import StorageOptions
from jobs.score.timeouts import DecodeTimeout, call_with_timeout
from siamese.audio import decode_audio
from siamese.config import AudioConfig
from siamese.errors import SilentAudio
from tests.fixtures_s3 import s3_server  # noqa: F401
from tests.fixtures_score import RATE, ray_local, real_like, score_model, write_clip  # noqa: F401
from voxguard.settings import Settings


def _wav(samples: np.ndarray, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def test_a_dc_only_clip_is_silent_not_scored() -> None:
    config = AudioConfig()
    for level in (0.5, -0.3):
        with pytest.raises(SilentAudio, match="DC only"):
            decode_audio(_wav(np.full(RATE * 2, level, np.float32)), config)
    # Speech-band signal riding on a DC offset is still audio.
    rng = np.random.default_rng(0)
    ok = decode_audio(_wav(0.4 + real_like(2.0, rng)), config)
    assert ok.duration_s == pytest.approx(2.0)


def test_call_with_timeout_gives_up_on_a_stuck_call_and_goes_on() -> None:
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(DecodeTimeout, match="longer than 0.2 s"):
        call_with_timeout(release.wait, 0.2, 30.0)  # a decoder stuck on its input
    assert time.monotonic() - start < 5.0
    assert call_with_timeout(sum, 5.0, [1, 2, 3]) == 6  # the next object is decoded normally
    with pytest.raises(ZeroDivisionError):  # the decoder's own errors still reach the caller
        call_with_timeout(lambda: 1 / 0, 5.0)
    # One helper thread serves this caller's objects; the stuck one was replaced, not reused.
    helpers = {call_with_timeout(threading.current_thread, 5.0) for _ in range(3)}
    assert len(helpers) == 1 and helpers.pop().name == "voxguard-decode"
    stuck = [t for t in threading.enumerate() if t.name == "voxguard-decode"]
    release.set()  # the stuck decode returns: its abandoned thread exits instead of waiting forever
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and sum(t.is_alive() for t in stuck) > 1:
        time.sleep(0.05)
    assert sum(t.is_alive() for t in stuck) == 1  # only the live helper remains


def test_a_helper_thread_ends_with_its_caller_thread() -> None:
    """Threads that come and go (the local executor's pools, one per job) leave no idle helpers behind."""
    helpers: list[threading.Thread] = []

    def caller() -> None:
        helpers.append(call_with_timeout(threading.current_thread, 5.0))

    for _ in range(3):
        thread = threading.Thread(target=caller)
        thread.start()
        thread.join()
    assert len(set(helpers)) == 3 and all(h.name == "voxguard-decode" for h in helpers)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(h.is_alive() for h in helpers):
        time.sleep(0.05)
    assert not any(h.is_alive() for h in helpers)


def test_a_decode_past_the_time_limit_is_a_timeout_row_and_resume_reads_it_again(
    tmp_path, score_model, ray_local  # noqa: F811
) -> None:
    rng = np.random.default_rng(3)
    src = tmp_path / "in"
    for i in range(5):  # 44.1 kHz: decoding includes resampling, far longer than the limit below
        write_clip(src / f"c{i}.wav", np.tile(real_like(1.0, rng, 44100), 4), 44100)
    strict = Settings.from_env(decode_timeout_s=1e-6)
    summary = run_scoring(str(src), str(tmp_path / "out"), score_model, settings=strict, progress=lambda _: None)
    assert summary["rows"] == 5 and summary["error_codes"] == {"timeout": 5}  # every object has its row
    again = run_scoring(str(src), str(tmp_path / "out"), score_model, resume=True, progress=lambda _: None,
                        settings=Settings.from_env())
    assert again["retried_errors"] == 5 and again["scored"] == 5
    rows = pq.read_table(str(tmp_path / "out")).to_pylist()
    assert len(rows) == 5 and all(r["error"] is None for r in rows)


def _decode(item: dict) -> list[dict]:
    return decode_item(item, AudioConfig(), StorageOptions(), 10**9, None, 64)


def test_a_local_file_changed_after_listing_is_reported_and_fingerprinted_as_read(tmp_path) -> None:
    rng = np.random.default_rng(4)
    path = write_clip(tmp_path / "a.wav", real_like(2.0, rng))
    (listed,) = iter_objects(str(tmp_path))
    item = {"idx": 0, "uri": listed.uri, "size_bytes": listed.size_bytes, "fingerprint": None,
            "error": None, "mtime_ns": listed.mtime_ns}
    (same,) = _decode(item)
    assert same["changed"] is False and same["error"] is None
    write_clip(path, real_like(3.0, rng))  # rewritten between listing and reading
    os.utime(path, ns=(listed.mtime_ns + 10**9, listed.mtime_ns + 10**9))
    (changed,) = _decode(item)
    assert changed["changed"] is True and changed["error"] is None
    assert changed["duration_s"] == pytest.approx(3.0) and changed["size_bytes"] == path.stat().st_size
    assert changed["fingerprint"] != same["fingerprint"]


def test_an_s3_object_overwritten_after_listing_gets_the_etag_of_the_bytes_read(s3_server) -> None:  # noqa: F811
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="changing")
    rng = np.random.default_rng(5)
    client.put_object(Bucket="changing", Key="x.wav", Body=_wav(real_like(2.0, rng)))
    options = StorageOptions(s3_server.endpoint)
    (listed,) = iter_objects("s3://changing/", options)
    client.put_object(Bucket="changing", Key="x.wav", Body=_wav(real_like(3.0, rng)))  # overwritten
    item = {"idx": 0, "uri": listed.uri, "size_bytes": listed.size_bytes, "fingerprint": listed.fingerprint,
            "error": None, "mtime_ns": None}
    (row,) = decode_item(item, AudioConfig(), options, 10**9, None, 64)
    etag = "etag:" + client.head_object(Bucket="changing", Key="x.wav")["ETag"].strip('"')
    assert row["changed"] is True and row["fingerprint"] == etag != listed.fingerprint
    assert row["duration_s"] == pytest.approx(3.0)
