"""s3:// URIs: boto3 for object reads, `pyarrow.fs.S3FileSystem` for Parquet and checkpoints.

Both use the standard AWS credential chain and the endpoint override of the
`StorageOptions` (MinIO, moto, Ceph...), so every user of an s3:// URI reaches
the same server.
"""

from __future__ import annotations

import time
from functools import lru_cache

import pyarrow.fs as pafs

from voxguard.errors import InputError
from voxguard.storage.base import Backend, ObjectTooLarge, ReadResult, StorageOptions

STREAM_ATTEMPTS = 4  # whole GETs per object when the body breaks off mid-transfer


def is_s3(uri: str) -> bool:
    """True for `s3://bucket/key` URIs."""
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key")."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InputError(f"not an s3://bucket/... URI: {uri!r}")
    return bucket, key


@lru_cache(maxsize=8)
def s3_client(options: StorageOptions):  # type: ignore[no-untyped-def] # boto3 client
    """A cached boto3 S3 client (one per process and options; clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=options.endpoint or None,
        region_name=options.region or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def s3_filesystem(options: StorageOptions) -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem on the configured endpoint and region.

    `allow_delayed_open`: an object smaller than one upload part (checkpoint files, job
    records) is written with a single PutObject instead of a multipart upload: fewer
    requests, and no multipart completion, which some S3-compatible servers answer in a
    form pyarrow refuses (moto 5.2: INTERNAL_FAILURE on CompleteMultipartUpload).
    """
    kwargs: dict[str, object] = {"region": options.region or "us-east-1", "allow_delayed_open": True}
    if options.endpoint:
        scheme, _, host = options.endpoint.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return pafs.S3FileSystem(**kwargs)


class S3Backend(Backend):
    """S3 and S3-compatible stores."""

    def read_object(self, uri: str, max_bytes: int | None = None) -> ReadResult:
        """Read a whole object (and the ETag of the GET that returned it); refuses objects over `max_bytes` without reading them.

        botocore retries failed requests, but not a body that breaks off after the
        response began (`ResponseStreamingError`, `IncompleteReadError`): those are
        retried here with a short backoff, so a flaky network does not turn into
        permanent `unreadable` rows.
        """
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        bucket, key = split_s3(uri)
        for attempt in range(STREAM_ATTEMPTS):
            response = s3_client(self.options).get_object(Bucket=bucket, Key=key)
            length = int(response.get("ContentLength") or 0)
            body = response["Body"]
            try:
                if max_bytes is not None and length > max_bytes:
                    raise ObjectTooLarge(f"{length} bytes exceeds the {max_bytes} byte limit")
                data = body.read()  # botocore checks the length: a short body raises IncompleteReadError
                etag = response.get("ETag")
                return ReadResult(data, etag="etag:" + etag.strip('"') if etag else None)
            except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError):
                if attempt + 1 == STREAM_ATTEMPTS:
                    raise
                time.sleep(min(2.0, 0.2 * 2**attempt))
            finally:
                body.close()
        raise AssertionError("unreachable")

    def filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        bucket, key = split_s3(uri)
        return s3_filesystem(self.options), f"{bucket}/{key.strip('/')}".rstrip("/")
