"""Scoring from and to an S3-compatible store (moto_server in its own process)."""

from __future__ import annotations

import io

import boto3
import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import soundfile

from jobs.score.pipeline import run_scoring
from tests.fixtures_s3 import s3_server  # noqa: F401
from tests.fixtures_score import RATE, local_ray, real_like, score_model, synthetic_like  # noqa: F401
from voxguard.cli import main
from voxguard.settings import Settings


@pytest.fixture(scope="module")
def ray_s3(s3_server):  # type: ignore[no-untyped-def] # noqa: F811
    """Ray started after the S3 credentials are in the environment (workers inherit them)."""
    yield from local_ray()


def _wav(samples: np.ndarray, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, RATE, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def archive(s3_server):  # type: ignore[no-untyped-def] # noqa: F811
    """Bucket `archive` with clips under clips/ (plus junk), bucket `results` empty."""
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="archive")
    client.create_bucket(Bucket="results")
    rng = np.random.default_rng(5)
    client.put_object(Bucket="archive", Key="clips/", Body=b"")  # folder marker: not an input
    for i in range(4):
        client.put_object(Bucket="archive", Key=f"clips/real/{i}.wav", Body=_wav(real_like(2.0, rng)))
        client.put_object(Bucket="archive", Key=f"clips/fake/{i}.flac", Body=_wav(synthetic_like(2.0, rng), "FLAC"))
    client.put_object(Bucket="archive", Key="clips/notes.txt", Body=b"not audio at all")
    client.put_object(Bucket="archive", Key="other/skip.wav", Body=_wav(real_like(1.0, rng)))
    manifest = "uri\ns3://archive/clips/real/0.wav\ns3://archive/clips/fake/1.flac\ns3://archive/clips/missing.wav\n"
    client.put_object(Bucket="archive", Key="manifest.csv", Body=manifest.encode())
    return client


def _read_back(endpoint: str, path: str) -> list[dict]:
    host = endpoint.removeprefix("http://")
    fs = pafs.S3FileSystem(endpoint_override=host, scheme="http", region="us-east-1")
    return pq.read_table(path, filesystem=fs).to_pylist()


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_s3_prefix_to_s3_parquet(s3_server, archive, score_model, ray_s3, executor) -> None:  # noqa: F811
    settings = Settings.from_env(s3_endpoint=s3_server.endpoint, executor=executor)
    dest = f"s3://results/scores-{executor}"
    summary = run_scoring(
        "s3://archive/clips/", dest, score_model, settings=settings, part_size=4, progress=lambda _: None
    )
    assert summary["rows"] == 9 and summary["scored"] == 8 and summary["errors"] == 1
    assert summary["executor"] == executor
    rows = _read_back(s3_server.endpoint, f"results/scores-{executor}")
    by_uri = {r["uri"]: r for r in rows}
    assert len(rows) == 9 and len(by_uri) == 9
    assert by_uri["s3://archive/clips/notes.txt"]["error"].startswith("not_audio")
    etags = {o["Key"]: o["ETag"].strip('"') for o in archive.list_objects_v2(Bucket="archive")["Contents"]}
    for uri, row in by_uri.items():
        assert row["fingerprint"] == "etag:" + etags[uri.removeprefix("s3://archive/")]
    real = [r["prob_bonafide"] for u, r in by_uri.items() if "/real/" in u]
    fake = [r["prob_bonafide"] for u, r in by_uri.items() if "/fake/" in u]
    assert min(real) > max(fake)
    # Resume over S3: nothing new to do.
    again = run_scoring(
        "s3://archive/clips/", dest, score_model, settings=settings, resume=True, progress=lambda _: None
    )
    assert again["skipped"] == 9 and again["rows"] == 0
    assert len(_read_back(s3_server.endpoint, f"results/scores-{executor}")) == 9


def test_cli_s3_manifest(s3_server, archive, score_model, ray_s3, capsys) -> None:  # noqa: F811
    code = main(
        [
            "score",
            "s3://archive/manifest.csv",
            "--out",
            "s3://results/from-manifest",
            "--model",
            str(score_model),
            "--s3-endpoint",
            s3_server.endpoint,
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "most suspicious" in out and "s3://archive/clips/fake/1.flac" in out
    rows = {r["uri"]: r for r in _read_back(s3_server.endpoint, "results/from-manifest")}
    assert set(rows) == {"s3://archive/clips/real/0.wav", "s3://archive/clips/fake/1.flac", "s3://archive/clips/missing.wav"}
    assert rows["s3://archive/clips/missing.wav"]["error"].startswith("unreadable")
    assert rows["s3://archive/clips/real/0.wav"]["label"] is not None
