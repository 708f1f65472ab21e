"""Resuming: what DEST already holds, and whether a listed object is done.

Ray Data has no job checkpointing, so the output is the checkpoint: parts are
written atomically (see `voxguard.storage.parts.write_part`), hence a part is either fully
there or absent, and every row in DEST is final. An object is done when DEST
has a row with its uri, the same fingerprint and the same model version.

Except transient errors: a row whose error code is in `TRANSIENT_ERRORS`
(`unreadable`: a dropped connection, a truncated body, a folder that could not
be listed; `timeout`: a decode that ran past its limit) says nothing permanent about the object. `drop_transient_errors`
removes such rows from their parts (each part rewritten atomically) before a
resume lists the source, so those objects are read again and end up with
exactly one row. Permanent errors (`not_audio`, `too_large`...) stay done.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from jobs.score.sources import SourceObject
from voxguard.storage import StorageOptions
from voxguard.storage.local import open_regular
from voxguard.storage.parts import read_parts, write_part
from voxguard.storage.s3 import is_s3

TRANSIENT_ERRORS = ("unreadable", "timeout")  # timeout: a decode past its limit (load, or hostile)


@dataclass
class DoneIndex:
    """(uri -> fingerprint, size) of rows already written for one model version."""

    model_version: str
    rows: dict[str, list[tuple[str | None, int | None]]] = field(default_factory=dict)
    job_ids: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values())

    def is_done(self, obj: SourceObject) -> bool:
        """True when `obj` already has a row; local files are hashed only if their uri was seen."""
        seen = self.rows.get(obj.uri)
        if not seen:
            return False
        if any(fp is None for fp, _ in seen):  # an error row without a fingerprint counts as done
            return True
        if obj.fingerprint is not None:  # S3: ETag from the listing
            return any(fp == obj.fingerprint for fp, _ in seen)
        if is_s3(obj.uri):
            return False
        same_size = [fp for fp, size in seen if size is None or size == obj.size_bytes]
        return bool(same_size) and _sha256_file(obj.uri) in same_size


def load_done(fs: pafs.FileSystem, parts: list[str], model_version: str) -> DoneIndex:
    """Index the rows already in `parts` for `model_version` (reads only four columns)."""
    index = DoneIndex(model_version)
    if not parts:
        return index
    columns = ["uri", "fingerprint", "size_bytes", "model_version", "job_id"]
    table = read_parts(fs, parts, columns=columns)
    for uri, fp, size, version, job in zip(*(table.column(c).to_pylist() for c in columns), strict=True):
        index.job_ids[job] += 1
        if version == model_version:
            index.rows.setdefault(uri, []).append((fp, size))
    return index


def drop_transient_errors(fs: pafs.FileSystem, parts: list[str], model_version: str,
                          options: StorageOptions | None = None) -> tuple[list[str], int]:
    """Remove `model_version`'s transient error rows from `parts`; returns (remaining parts, rows removed)."""
    remaining, removed = [], 0
    for part in parts:
        cols = read_parts(fs, [part], columns=["error", "model_version"])
        codes = pc.split_pattern(pc.fill_null(cols.column("error"), ""), ":", max_splits=1)
        code = pc.list_element(codes, 0)
        mask = pc.and_(pc.is_in(code, value_set=_transient_set()),
                       pc.equal(cols.column("model_version"), model_version))
        n = pc.sum(pc.cast(pc.fill_null(mask, False), "int64")).as_py() or 0
        if not n:
            remaining.append(part)
            continue
        table = pq.read_table(part, filesystem=fs)
        keep = table.filter(pc.invert(pc.fill_null(mask, False)))
        if keep.num_rows:
            write_part(keep, fs, part, options)  # atomic replace: all rows or the old part
            remaining.append(part)
        else:
            fs.delete_file(part)
        removed += n
    return remaining, removed


def _transient_set():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.array(TRANSIENT_ERRORS, pa.string())


def _sha256_file(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open_regular(path) as handle:  # never blocks on a FIFO swapped in since the last run
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return "sha256:" + digest.hexdigest()
