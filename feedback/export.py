"""Export of reviewers' verdicts (CSV or Parquet): the feedback data is the customer's asset.

One row per verdict (every review row, not only final ones, so agreement can be
recomputed elsewhere), with who gave it and when, the note, the clip, the model
version and what the model said, and the item's final verdict. Written in
chunks, so a large history never sits in memory as Python objects.

CSV cells are what a spreadsheet opens: a text cell starting with `=`, `+`, `-`,
`@`, tab or CR would run as a formula (CSV injection, OWASP), so such text is
prefixed with a single quote in CSV; Parquet keeps text exactly as stored.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.audit import audit
from feedback.models import Clip, Review, ReviewItem, Score, ScoringJob
from voxguard.errors import InputError

FORMATS = ("csv", "parquet")
SCHEMA = pa.schema([
    ("review_id", pa.int64()), ("item_id", pa.int64()), ("uri", pa.string()), ("fingerprint", pa.string()),
    ("reviewer", pa.string()), ("verdict", pa.string()), ("note", pa.string()),
    ("reviewed_at", pa.timestamp("us", tz="UTC")), ("model_version", pa.string()), ("model_label", pa.string()),
    ("model_score", pa.float64()), ("prob_bonafide", pa.float64()), ("job_id", pa.string()),
    ("final_verdict", pa.string()), ("item_status", pa.string()),
])
_TEXT = ("uri", "reviewer", "note")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 5000


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The export format: given explicitly, else from the file's suffix; one-line error otherwise."""
    fmt = (fmt or Path(str(path)).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(f"export format must be one of {FORMATS} (or a .csv/.parquet file name), not {fmt!r}")
    return fmt


def verdict_batches(
    session: Session, *, since: dt.datetime | None = None, job_id: str | None = None, chunk: int = _CHUNK,
) -> Iterator[pa.RecordBatch]:
    """Every verdict (oldest first) given after `since`, on clips of `job_id` if given, in record batches."""
    stmt = (select(Review.id, Review.item_id, Clip.uri, Clip.fingerprint, Review.reviewer, Review.verdict,
                   Review.note, Review.created_at, ReviewItem.model_version, ReviewItem.model_label,
                   ReviewItem.model_score, Score.prob_bonafide, ScoringJob.job_id, ReviewItem.final_verdict,
                   ReviewItem.status)
            .join(ReviewItem, ReviewItem.id == Review.item_id).join(Clip, Clip.id == ReviewItem.clip_id)
            .outerjoin(Score, Score.id == ReviewItem.score_id)
            .outerjoin(ScoringJob, ScoringJob.id == ReviewItem.scoring_job_id)
            .order_by(Review.created_at, Review.id))
    if since is not None:
        stmt = stmt.where(Review.created_at > since)
    if job_id:
        stmt = stmt.where(ScoringJob.job_id == job_id)
    result = session.execute(stmt.execution_options(yield_per=chunk))
    for rows in result.partitions(chunk):
        columns = list(zip(*rows)) if rows else [[] for _ in SCHEMA]
        yield pa.RecordBatch.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(columns, SCHEMA)],
                                         schema=SCHEMA)


def write_verdicts(session: Session, out: str | Path | IO[bytes], fmt: str, *, actor: str,
                   since: dt.datetime | None = None, job_id: str | None = None) -> int:
    """Write the verdicts to `out` (a path or a binary file object) as `fmt`; returns the number of rows.

    The export itself is audited (who took a copy of the feedback data, how much, filtered how).
    """
    fmt = format_for("", fmt)
    n = 0
    if fmt == "parquet":
        with pq.ParquetWriter(out, SCHEMA) as writer:
            for batch in verdict_batches(session, since=since, job_id=job_id):
                writer.write_batch(batch)
                n += batch.num_rows
            if n == 0:
                writer.write_table(SCHEMA.empty_table())
    else:
        with pacsv.CSVWriter(out, SCHEMA) as writer:
            for batch in verdict_batches(session, since=since, job_id=job_id):
                writer.write_batch(_defuse(batch))
                n += batch.num_rows
    audit(session, actor, "review.export", format=fmt, rows=n, since=since, job_id=job_id)
    return n


def verdicts_bytes(session: Session, fmt: str, *, actor: str, **filters: Any) -> bytes:
    """The export as bytes (for the dashboard's download button)."""
    buffer = io.BytesIO()
    write_verdicts(session, buffer, fmt, actor=actor, **filters)
    return buffer.getvalue()


def _defuse(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Text cells that a spreadsheet would run as formulas get a leading single quote (CSV only)."""
    arrays = []
    for field, column in zip(batch.schema, batch.columns):
        if field.name in _TEXT:
            values = column.to_pylist()
            column = pa.array([("'" + v) if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                               for v in values], type=field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)
