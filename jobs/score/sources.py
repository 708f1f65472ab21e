"""What to score: list the objects of a SOURCE, lazily.

SOURCE is one of
- a local folder (walked recursively; hidden files and folders are skipped),
- a local glob (`clips/**/*.flac`) or a single local file,
- `s3://bucket/prefix` (every object under the prefix, listed page by page),
- a manifest: a `.csv` or `.parquet` file (local or on S3) with a `uri` column;
  relative local paths are taken relative to the manifest's folder.

Every listed object becomes exactly one output row, so listing never filters
by extension: a JPEG named `.wav` or a stray text file gets an error row. A
manifest's blank rows and repeated entries name no new object: they are
counted (the job summary reports them), and each object is scored once.
S3 objects carry their ETag as fingerprint (free with the listing); local
files get a sha256 of their content when they are read.

Hostile folders: an entry is recorded under the path that was listed (a
symlink keeps its own name; two links to one file are two rows). Symlink
loops and dangling links become `broken_link` rows, FIFOs, sockets and
devices `not_regular_file` rows (never opened: reading a FIFO blocks
forever), and a link leading outside the listed folder an `outside_source`
row. With `roots` (the configured source roots), any object outside them,
e.g. named by a manifest, becomes an `outside_roots` row instead of being read.
"""

from __future__ import annotations

import csv
import errno
import glob
import io
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from voxguard.errors import InputError, InputNotFound
from voxguard.roots import is_within
from voxguard.storage import StorageOptions, filesystem
from voxguard.storage.local import file_kind
from voxguard.storage.s3 import is_s3, s3_client, split_s3

MANIFEST_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class SourceObject:
    """One object to score. `fingerprint` is None until read (local files); `error` if it cannot be listed."""

    uri: str
    size_bytes: int | None = None
    fingerprint: str | None = None
    error: str | None = None
    mtime_ns: int | None = None  # local files: modification time at listing (a change is reported)


def iter_objects(
    source: str, options: StorageOptions | None = None, roots: Sequence[str] | None = None,
    skipped: Counter | None = None,
) -> Iterator[SourceObject]:
    """Yield the objects of `source` (see module docstring), without holding the whole listing.

    `roots`: when given, objects outside them become `outside_roots` error rows.
    `skipped`: counts manifest rows that name no new object (blank, repeated).
    """
    objects = _iter_source(source, options or StorageOptions(), skipped)
    if not roots:
        yield from objects
        return
    for obj in objects:
        if obj.error is None and not is_within(obj.uri, roots):
            obj = SourceObject(uri=obj.uri, error="outside_roots: not under the allowed source roots")
        yield obj


def _iter_source(source: str, options: StorageOptions, skipped: Counter | None) -> Iterator[SourceObject]:
    if source.lower().endswith(MANIFEST_SUFFIXES) and (is_s3(source) or Path(source).is_file()):
        yield from _iter_manifest(source, options, skipped)
    elif is_s3(source):
        yield from _iter_s3_prefix(source, options)
    elif any(ch in source for ch in "*?["):
        base = _glob_base(source)
        for path in sorted(glob.iglob(source, recursive=True)):
            if not os.path.isdir(path):  # FIFOs, dangling links...: rows too, not silently dropped
                yield _stat_local(path, base)
    elif os.path.isdir(source):
        yield from _iter_folder(source)
    elif os.path.lexists(source) and not os.path.isdir(source):
        yield _stat_local(source)
    else:
        raise InputNotFound(f"source not found: {source}")


def etag_fingerprint(etag: str | None) -> str | None:
    """S3 ETag without its quotes, prefixed so it is never mistaken for a sha256."""
    return "etag:" + etag.strip('"') if etag else None


def _stat_local(path: str, root: str | None = None) -> SourceObject:
    """One local entry as listed (never opened); `root`: the listed folder that links must stay in."""
    uri = os.path.abspath(path)  # not resolved: a symlink is recorded under its own name
    try:
        info = os.stat(uri)  # follows links: what would be read
    except OSError as error:
        if error.errno == errno.ELOOP:
            return SourceObject(uri=uri, error="broken_link: symlink loop")
        if os.path.islink(uri):
            return SourceObject(uri=uri, error=f"broken_link: target unreachable ({error.strerror or error})")
        return SourceObject(uri=uri, error=f"unreadable: {error.strerror or error}")
    if not stat.S_ISREG(info.st_mode):
        return SourceObject(uri=uri, error=f"not_regular_file: {file_kind(info.st_mode)}")
    if root is not None and not is_within(uri, [root]):
        return SourceObject(uri=uri, error="outside_source: the link leads outside the listed folder")
    return SourceObject(uri=uri, size_bytes=info.st_size, mtime_ns=info.st_mtime_ns)


def _glob_base(pattern: str) -> str:
    """The folder before a glob's first wildcard: links must not lead out of it."""
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts))
    return os.path.abspath(os.path.join(*parts[:first])) if first else os.getcwd()


def _iter_folder(root: str) -> Iterator[SourceObject]:
    """Walk `root` without following folder links; every non-folder entry (and unlistable folder) is a row."""
    unlistable: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=unlistable.append):
        while unlistable:
            error = unlistable.pop()
            yield SourceObject(uri=os.path.abspath(error.filename or folder),
                               error=f"unreadable: cannot list folder ({error.strerror or error})")
        linked = sorted(d for d in dirs if not d.startswith(".") and os.path.islink(os.path.join(folder, d)))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked)
        for name in linked:  # not followed (loops, escapes); said so rather than dropped
            yield SourceObject(uri=os.path.abspath(os.path.join(folder, name)),
                               error="not_regular_file: link to a folder (not followed)")
        for name in sorted(files):
            if not name.startswith("."):
                yield _stat_local(os.path.join(folder, name), root)
    while unlistable:
        error = unlistable.pop()
        yield SourceObject(uri=os.path.abspath(error.filename or root),
                           error=f"unreadable: cannot list folder ({error.strerror or error})")


def _iter_s3_prefix(source: str, options: StorageOptions) -> Iterator[SourceObject]:
    bucket, prefix = split_s3(source)
    paginator = s3_client(options).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):  # "folder" placeholder objects hold no data
                continue
            yield SourceObject(
                uri=f"s3://{bucket}/{key}",
                size_bytes=int(item.get("Size", 0)),
                fingerprint=etag_fingerprint(item.get("ETag")),
            )


def _iter_manifest(manifest: str, options: StorageOptions, skipped: Counter | None = None) -> Iterator[SourceObject]:
    """Objects named by a manifest, each once: blank rows and repeats are counted in `skipped`, not scored."""
    base = None if is_s3(manifest) else Path(manifest).resolve().parent
    seen: set[str] = set()
    skipped = skipped if skipped is not None else Counter()
    for uri in _manifest_uris(manifest, options):
        uri = uri.strip()
        if not uri:
            skipped["manifest_blank_rows"] += 1
            continue
        if not is_s3(uri):
            path = Path(uri)
            uri = os.path.abspath(base / path if not path.is_absolute() and base is not None else path)
        if uri in seen:  # one row per object: a repeated entry would be scored (and queued) twice
            skipped["manifest_duplicate_rows"] += 1
            continue
        seen.add(uri)
        yield _head_s3(uri, options) if is_s3(uri) else _stat_local(uri)


def _manifest_uris(manifest: str, options: StorageOptions) -> Iterator[str]:
    fs, path = filesystem(manifest, options) if is_s3(manifest) else (None, manifest)
    if manifest.lower().endswith(".parquet"):
        parquet = pq.ParquetFile(fs.open_input_file(path) if fs else path)
        if "uri" not in parquet.schema_arrow.names:
            raise InputError(f"manifest {manifest} has no 'uri' column")
        for batch in parquet.iter_batches(columns=["uri"], batch_size=10_000):
            yield from (u or "" for u in batch.column(0).to_pylist())
        return
    raw = fs.open_input_stream(path) if fs else open(path, "rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:  # type: ignore[arg-type]
        reader = csv.reader(text)  # not DictReader: it drops empty lines unseen, and they must be counted
        header = next(reader, None) or []
        if "uri" not in header:
            raise InputError(f"manifest {manifest} has no 'uri' column")
        column = header.index("uri")
        for row in reader:
            yield row[column] if len(row) > column else ""


def _head_s3(uri: str, options: StorageOptions) -> SourceObject:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3(uri)
    try:
        head = s3_client(options).head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        return SourceObject(uri=uri, error=f"unreadable: {error}")
    return SourceObject(uri=uri, size_bytes=int(head.get("ContentLength", 0)), fingerprint=etag_fingerprint(head.get("ETag")))
