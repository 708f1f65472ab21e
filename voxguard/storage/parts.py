"""Parquet parts in and out, for local paths and object-store URIs alike (scoring output, the dashboard's
job listing, resumption).

Parts are written atomically: locally through a hidden temporary file and a rename, on S3 by a single
upload that only becomes visible once complete, so a reader sees a whole part or none.
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from voxguard.errors import StorageError
from voxguard.storage.base import StorageOptions
from voxguard.storage.s3 import s3_client

__all__ = ["PART_SUFFIX", "DestinationNotWritable", "check_writable", "ensure_dir", "list_parts", "read_parts",
           "write_part"]

PART_SUFFIX = ".parquet"


def ensure_dir(fs: pafs.FileSystem, path: str) -> None:
    """Create the destination folder (a no-op on S3, where prefixes are implicit)."""
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path, recursive=True)


class DestinationNotWritable(StorageError, ValueError):
    """DEST cannot take parts (missing bucket, no permission, a file in the way): found before scoring."""


def check_writable(fs: pafs.FileSystem, path: str, options: StorageOptions | None = None) -> None:
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
        client = s3_client(options or StorageOptions())
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


def write_part(table: pa.Table, fs: pafs.FileSystem, path: str, options: StorageOptions | None = None) -> None:
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
    s3_client(options or StorageOptions()).put_object(Bucket=bucket, Key=key, Body=sink.getvalue().to_pybytes())


def read_parts(fs: pafs.FileSystem, paths: list[str], columns: list[str] | None = None) -> pa.Table:
    """Concatenate parts (optionally only some columns)."""
    tables = [pq.read_table(p, filesystem=fs, columns=columns) for p in paths]
    return pa.concat_tables(tables) if tables else pa.table({})
