"""Training checkpoints on s3:// go to the configured endpoint (VOXGUARD_S3_ENDPOINT), not to AWS.

`voxguard train --storage-path s3://bucket/runs` against a real moto_server process on
127.0.0.1: the run's job record and Ray Train checkpoints must appear in that
server's bucket. (Before `voxguard.storage`, the URI went to
`pyarrow.fs.FileSystem.from_uri`, which knows nothing of the endpoint setting.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from siamese.package import ModelPackage
from tests.fixtures_s3 import s3_server  # noqa: F401
from train_tiny import write_tiny_corpus
from voxguard.cli import main
from voxguard.storage import StorageOptions, filesystem, read_bytes

BUCKET = "train-runs"


@pytest.fixture
def _own_ray() -> Iterator[None]:
    """The CLI starts an embedded Ray in this process; stop it afterwards for the next tests."""
    from cluster.local import shutdown_ray

    shutdown_ray()  # a Ray left by an earlier test would not see this module's credentials
    yield
    shutdown_ray()


def test_filesystem_of_an_s3_uri_uses_the_endpoint(s3_server) -> None:  # noqa: F811
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="fs-probe")
    fs, path = filesystem("s3://fs-probe/a/", StorageOptions(s3_server.endpoint))
    assert path == "fs-probe/a"
    with fs.open_output_stream(f"{path}/x.txt") as stream:
        stream.write(b"hello")
    assert client.get_object(Bucket="fs-probe", Key="a/x.txt")["Body"].read() == b"hello"
    assert read_bytes("s3://fs-probe/a/x.txt", StorageOptions(s3_server.endpoint)) == b"hello"


@pytest.mark.slow
@pytest.mark.usefixtures("_own_ray")
def test_s3_checkpoints_go_to_the_configured_endpoint(s3_server, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("VOXGUARD_S3_ENDPOINT", s3_server.endpoint)
    manifest = write_tiny_corpus(tmp_path / "corpus", per_split=8)
    out = tmp_path / "model.vxpkg"
    code = main([
        "train", "--manifest", str(manifest), "--out", str(out), "--storage-path", f"s3://{BUCKET}/runs",
        "--name", "tiny", "--frontend", "loglinear", "--channels", "8,16", "--window-s", "1.0",
        "--epochs", "1", "--batch-size", "8", "--batches-per-epoch", "4", "--num-workers", "1",
        "--devset", str(tmp_path / "no-devset"), "--cache-dir", str(tmp_path / "cache"), "--ray-address", "local",
    ])
    assert code == 0 and ModelPackage.load(out).training["epochs_run"] == 1
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="runs/tiny/").get("Contents", [])]
    assert "runs/tiny/voxguard-job.json" in keys
    assert any("/checkpoint_" in key for key in keys), keys
