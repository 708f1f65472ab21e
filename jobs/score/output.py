"""The output table: one row per input object (a verdict or an error).

Columns (documented in the README):
  uri            the object scored (absolute local path or s3://bucket/key)
  size_bytes     object size
  fingerprint    "etag:<ETag>" for S3, "sha256:<hex>" of the content for local files
  duration_s     decoded audio duration
  sample_rate    the input's sample rate (before resampling)
  channels       the input's channel count
  model_version  the model package version that produced the row
  score          clip score (mean of window scores; higher = more bona fide)
  prob_bonafide  calibrated probability that the clip is bona fide
  label          bonafide | spoof | inconclusive (inside the abstain band)
  confidence     max(prob_bonafide, 1 - prob_bonafide)
  flagged        spoof, inconclusive, or any confidently spoof-looking segment
  segments       list<struct<start_s, end_s, score, prob_bonafide>>: every window
  error          null, or "code: message" (codes from siamese.errors, plus unreadable)
  job_id         the scoring job
  scored_at      UTC time the row was produced
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

SEGMENT_TYPE = pa.struct(
    [
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("score", pa.float64()),
        ("prob_bonafide", pa.float64()),
    ]
)

OUTPUT_SCHEMA = pa.schema(
    [
        ("uri", pa.string()),
        ("size_bytes", pa.int64()),
        ("fingerprint", pa.string()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("model_version", pa.string()),
        ("score", pa.float64()),
        ("prob_bonafide", pa.float64()),
        ("label", pa.string()),
        ("confidence", pa.float64()),
        ("flagged", pa.bool_()),
        ("segments", pa.list_(SEGMENT_TYPE)),
        ("error", pa.string()),
        ("job_id", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)

COLUMNS = OUTPUT_SCHEMA.names


def now_utc() -> dt.datetime:
    """Timestamp for `scored_at`."""
    return dt.datetime.now(dt.timezone.utc)


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts with the output columns) -> an Arrow table with the exact output schema."""
    return pa.Table.from_pylist([{c: row.get(c) for c in COLUMNS} for row in rows], schema=OUTPUT_SCHEMA)
