"""Bytes in and Parquet out, for local paths and `s3://` URIs alike.

S3 goes through boto3 for reads/listing and `pyarrow.fs.S3FileSystem` for
Parquet, both with the standard AWS credential chain and an optional endpoint
override (MinIO, moto, Ceph...). Parquet parts are written atomically: locally
through a hidden temporary file and a rename, on S3 by a single upload that
only becomes visible once complete.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from voxguard.errors import InputError, StorageError

PART_SUFFIX = ".parquet"


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


@dataclass(frozen=True)
class S3Options:
    """Where S3 lives: endpoint override ("" = AWS) and region."""

    endpoint: str = ""
    region: str = "us-east-1"


@lru_cache(maxsize=8)
def s3_client(options: S3Options):  # type: ignore[no-untyped-def] # boto3 client
    """A cached boto3 S3 client (one per process and options; clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=options.endpoint or None,
        region_name=options.region or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


class ObjectTooLarge(Exception):
    """The object is bigger than the configured byte limit (raised before reading it all)."""


class NotRegularFile(OSError):
    """A FIFO, socket, device or folder where a file was expected: never read (a FIFO blocks forever)."""


def open_regular(path: str | os.PathLike[str]):  # type: ignore[no-untyped-def] # -> BinaryIO
    """Open a local file for reading only if it is a regular file (symlinks followed).

    Checked before opening, then again on the open descriptor (opened non-blocking,
    so a FIFO swapped in between cannot block the open), which closes the race.
    """
    if not stat.S_ISREG(mode := os.stat(path).st_mode):
        raise NotRegularFile(f"not a regular file ({file_kind(mode)})")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file ({file_kind(mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """FIFO, socket, device...: how a non-regular file is named in error rows."""
    names = ((stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISDIR, "folder"))
    return next((name for test, name in names if test(mode)), "special file")


STREAM_ATTEMPTS = 4  # whole GETs per object when the body breaks off mid-transfer


@dataclass(frozen=True)
class ReadResult:
    """The bytes of one object and the version they came from.

    `etag`: the S3 ETag of the GET that returned `data` ("etag:..."), None locally.
    `mtime_ns`: a local file's modification time on the open descriptor, None on S3.
    """

    data: bytes
    etag: str | None = None
    mtime_ns: int | None = None

    def changed_since(self, listed: dict[str, object]) -> bool:
        """True when what was read is not what the listing saw (size, ETag or mtime differ).

        `listed` holds the listing's `size_bytes`, `fingerprint` (S3: the listing's ETag)
        and `mtime_ns` (local); a value the listing did not record is not compared.
        """
        size = listed.get("size_bytes")
        if size is not None and int(size) != len(self.data):  # type: ignore[call-overload]
            return True
        listed_fp = listed.get("fingerprint")
        if self.etag and listed_fp and str(listed_fp).startswith("etag:") and listed_fp != self.etag:
            return True
        listed_mtime = listed.get("mtime_ns")
        return bool(self.mtime_ns is not None and listed_mtime is not None and int(listed_mtime) != self.mtime_ns)  # type: ignore[call-overload]


def read_bytes(uri: str, options: S3Options, max_bytes: int | None = None) -> bytes:
    """Read a whole local file or S3 object (see `read_object`)."""
    return read_object(uri, options, max_bytes).data


def read_object(uri: str, options: S3Options, max_bytes: int | None = None) -> ReadResult:
    """Read a whole local file or S3 object; refuses objects over `max_bytes` without reading them.

    botocore retries failed requests, but not a body that breaks off after the
    response began (`ResponseStreamingError`, `IncompleteReadError`): those are
    retried here with a short backoff, so a flaky network does not turn into
    permanent `unreadable` rows.
    """
    if is_s3(uri):
        return _read_s3(uri, options, max_bytes)
    with open_regular(uri) as handle:
        info = os.fstat(handle.fileno())
        if max_bytes is not None and info.st_size > max_bytes:
            raise ObjectTooLarge(f"{info.st_size} bytes exceeds the {max_bytes} byte limit")
        data = handle.read()
        # mtime after the read: a writer that was busy while we read shows up as a change.
        return ReadResult(data, mtime_ns=os.fstat(handle.fileno()).st_mtime_ns)


def _read_s3(uri: str, options: S3Options, max_bytes: int | None) -> ReadResult:
    from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

    bucket, key = split_s3(uri)
    for attempt in range(STREAM_ATTEMPTS):
        response = s3_client(options).get_object(Bucket=bucket, Key=key)
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


def filesystem(dest: str, options: S3Options) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for a local folder or `s3://bucket/prefix`."""
    if is_s3(dest):
        bucket, key = split_s3(dest)
        kwargs: dict[str, object] = {"region": options.region or "us-east-1"}
        if options.endpoint:
            scheme, _, host = options.endpoint.partition("://")
            kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        return pafs.S3FileSystem(**kwargs), f"{bucket}/{key.strip('/')}".rstrip("/")
    return pafs.LocalFileSystem(), str(Path(dest).resolve())


def ensure_dir(fs: pafs.FileSystem, path: str) -> None:
    """Create the destination folder (a no-op on S3, where prefixes are implicit)."""
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path, recursive=True)


class DestinationNotWritable(StorageError, ValueError):
    """DEST cannot take parts (missing bucket, no permission, a file in the way): found before scoring."""


def check_writable(fs: pafs.FileSystem, path: str, options: S3Options | None = None) -> None:
    """Create DEST and write and delete a hidden probe there, so a bad DEST fails in one line up front.

    Otherwise a missing output bucket is found only when the first part is
    written, after the first `part_size` clips were scored for nothing.
    """
    probe = f"{path}/.voxguard-write-probe-{uuid.uuid4().hex[:8]}"
    if isinstance(fs, pafs.LocalFileSystem):
        try:
            ensure_dir(fs, path)
            with open(probe, "wb"):
                pass
            os.unlink(probe)
        except OSError as error:
            raise DestinationNotWritable(f"cannot write to {path}: {error.strerror or error}") from None
        return
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = probe.partition("/")
    try:
        client = s3_client(options or S3Options())
        client.put_object(Bucket=bucket, Key=key, Body=b"")
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        raise DestinationNotWritable(f"cannot write to s3://{path}: {error}") from None


def list_parts(fs: pafs.FileSystem, path: str) -> list[str]:
    """Visible Parquet parts under `path` (hidden `.`/`_` files, e.g. temporaries, excluded)."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    except (FileNotFoundError, OSError):
        return []
    return sorted(
        info.path
        for info in infos
        if info.type == pafs.FileType.File
        and info.base_name.endswith(PART_SUFFIX)
        and not info.base_name.startswith((".", "_"))
    )


def write_part(table: pa.Table, fs: pafs.FileSystem, path: str, options: S3Options | None = None) -> None:
    """Write one Parquet part so that readers see all of it or nothing."""
    if isinstance(fs, pafs.LocalFileSystem):
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            pq.write_table(table, tmp, filesystem=fs, compression="zstd")
            with open(tmp, "rb+") as handle:  # data on disk before the rename makes it visible
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    # S3: one PutObject of the serialised part; the object exists only once the upload
    # completes. (Parts are a few MB; a single PUT also avoids multipart quirks of
    # some S3-compatible stores.) `path` is "bucket/key" as `filesystem` returns it.
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    bucket, _, key = path.partition("/")
    s3_client(options or S3Options()).put_object(Bucket=bucket, Key=key, Body=sink.getvalue().to_pybytes())


def read_parts(fs: pafs.FileSystem, paths: list[str], columns: list[str] | None = None) -> pa.Table:
    """Concatenate parts (optionally only some columns)."""
    tables = [pq.read_table(p, filesystem=fs, columns=columns) for p in paths]
    return pa.concat_tables(tables) if tables else pa.table({})
