"""Parquet parts in and out, for local paths and `s3://` URIs alike.

Reading objects and picking a filesystem by scheme is `voxguard.storage`'s job
(re-exported here for the scoring job's modules). Parquet parts are written
atomically: locally through a hidden temporary file and a rename, on S3 by a
single upload that only becomes visible once complete.
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from voxguard import storage
from voxguard.errors import StorageError
from voxguard.storage import NotRegularFile, ObjectTooLarge, ReadResult, StorageOptions
from voxguard.storage.local import file_kind, open_regular
from voxguard.storage.s3 import STREAM_ATTEMPTS, is_s3, s3_client, split_s3

__all__ = [
    "PART_SUFFIX", "STREAM_ATTEMPTS", "DestinationNotWritable", "NotRegularFile", "ObjectTooLarge", "S3Options",
    "check_writable", "ensure_dir", "file_kind", "filesystem", "is_s3", "list_parts", "open_regular",
    "read_bytes", "read_object", "read_parts", "ReadResult", "s3_client", "split_s3", "write_part",
]

PART_SUFFIX = ".parquet"


# The scheme-generic parts live in `voxguard.storage` (one backend per URL scheme), shared with
# training checkpoints, model packages and the dashboard; re-exported here under their old names.
S3Options = StorageOptions


def read_bytes(uri: str, options: S3Options, max_bytes: int | None = None) -> bytes:
    """Read a whole local file or S3 object (`voxguard.storage.read_bytes`)."""
    return storage.read_bytes(uri, options, max_bytes)


def read_object(uri: str, options: S3Options, max_bytes: int | None = None) -> ReadResult:
    """A whole object and the version it came from (`voxguard.storage.read_object`)."""
    return storage.read_object(uri, options, max_bytes)


def filesystem(dest: str, options: S3Options) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for a local folder or `s3://bucket/prefix`."""
    return storage.filesystem(dest, options)


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
