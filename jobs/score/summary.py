"""Running totals of a scoring job, progress lines, and the final summary table.

Kept in O(top_n) memory: counters plus a bounded heap of the most suspicious
clips, so it can follow an archive of any size.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobStats:
    """Counts of one run; `add(rows)` as rows are written, `as_dict()` at the end."""

    job_id: str
    model_version: str
    source: str
    dest: str
    top_n: int = 10
    listed: int = 0
    skipped: int = 0  # already in DEST (--resume)
    retried: int = 0  # transient error rows removed from DEST by --resume, to be read again
    manifest_skipped: Counter = field(default_factory=Counter)  # blank / repeated manifest rows
    rows: int = 0
    scored: int = 0
    flagged: int = 0
    errors: int = 0
    labels: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)
    audio_s: float = 0.0
    parts_written: int = 0
    changed: int = 0  # objects whose size/ETag/mtime changed between listing and reading
    started: float = field(default_factory=time.monotonic)
    _top: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Account for rows just written."""
        for row in rows:
            self.rows += 1
            if row.get("error"):
                self.errors += 1
                self.error_codes[str(row["error"]).split(":", 1)[0]] += 1
                continue
            self.scored += 1
            self.flagged += bool(row.get("flagged"))
            self.labels[row.get("label")] += 1
            self.audio_s += float(row.get("duration_s") or 0.0)
            # Most suspicious = lowest probability of being bona fide: keep the n smallest.
            key = -float(row.get("prob_bonafide") or 0.0)
            brief = {k: row.get(k) for k in ("uri", "score", "prob_bonafide", "label", "duration_s")}
            brief["worst_segment"] = _worst_segment(row.get("segments") or [])
            item = (key, row["uri"], brief)
            if len(self._top) < self.top_n:
                heapq.heappush(self._top, item)
            elif item > self._top[0]:
                heapq.heapreplace(self._top, item)

    @property
    def wall_s(self) -> float:
        return time.monotonic() - self.started

    def as_dict(self) -> dict[str, Any]:
        """The job summary returned by `run_scoring` (JSON-able)."""
        wall = self.wall_s
        top = [brief for _, _, brief in sorted(self._top, reverse=True)]
        return {
            "job_id": self.job_id,
            "model_version": self.model_version,
            "source": self.source,
            "dest": self.dest,
            "listed": self.listed,
            "skipped": self.skipped,
            "retried_errors": self.retried,
            "manifest_blank_rows": self.manifest_skipped["manifest_blank_rows"],
            "manifest_duplicate_rows": self.manifest_skipped["manifest_duplicate_rows"],
            "rows": self.rows,
            "scored": self.scored,
            "flagged": self.flagged,
            "errors": self.errors,
            "labels": dict(self.labels),
            "error_codes": dict(self.error_codes),
            "audio_hours": self.audio_s / 3600.0,
            "wall_s": wall,
            "x_real_time": self.audio_s / wall if wall > 0 else 0.0,
            "clips_per_s": self.rows / wall if wall > 0 else 0.0,
            "parts_written": self.parts_written,
            "changed_after_listing": self.changed,
            "top_suspicious": top,
        }


def _worst_segment(segments: list[dict[str, Any]]) -> dict[str, float] | None:
    if not segments:
        return None
    worst = min(segments, key=lambda s: s["score"])
    return {"start_s": worst["start_s"], "end_s": worst["end_s"], "prob_bonafide": worst["prob_bonafide"]}


LABELS = (("bonafide", "bona fide"), ("spoof", "spoof"), ("inconclusive", "inconclusive"))


def format_summary(summary: dict[str, Any]) -> str:
    """A short human table of the summary, the verdicts by label, and the most suspicious clips."""
    lines = [
        f"job {summary['job_id']}  model {summary['model_version']}",
        f"  source  {summary['source']}",
        f"  output  {summary['dest']}",
        "",
        "| listed | skipped | scored | flagged | errors | audio h | wall s | x real-time | clips/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['listed']} | {summary['skipped']} | {summary['scored']} | {summary['flagged']} | "
        f"{summary['errors']} | {summary['audio_hours']:.3f} | {summary['wall_s']:.1f} | "
        f"{summary['x_real_time']:.1f} | {summary['clips_per_s']:.1f} |",
    ]
    labels = summary.get("labels") or {}
    if summary["scored"]:
        counts = ", ".join(f"{name} {labels.get(key, 0)}" for key, name in LABELS)
        lines += ["", f"verdicts: {counts}"]
    blank, repeated = summary.get("manifest_blank_rows", 0), summary.get("manifest_duplicate_rows", 0)
    if blank or repeated:
        lines += ["", f"manifest rows naming no new object (not scored): {blank} blank, {repeated} repeated"]
    if summary.get("retried_errors"):
        lines += ["", f"transient error rows read again: {summary['retried_errors']}"]
    if summary.get("changed_after_listing"):
        lines += ["", f"changed between listing and reading (scored as read, with the read bytes' "
                      f"fingerprint): {summary['changed_after_listing']}"]
    if summary["error_codes"]:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(summary["error_codes"].items()))
        lines += ["", f"errors by kind: {codes}"]
    if summary["top_suspicious"]:
        lines += ["", "most suspicious clips (lowest P(bona fide)):"]
        for item in summary["top_suspicious"]:
            seg = item.get("worst_segment")
            where = f"  worst {seg['start_s']:.1f}-{seg['end_s']:.1f}s" if seg else ""
            lines.append(f"  {item['prob_bonafide']:.3f}  {item['label']:<12} {item['uri']}{where}")
    if "review_items_created" in summary:  # recorded in the feedback database
        lines += ["", f"review items created: {summary['review_items_created']}",
                  "next: voxguard dashboard   (review the flagged clips)"]
    return "\n".join(lines)
