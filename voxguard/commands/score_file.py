"""`voxguard score-file CLIP... [--model PACKAGE] [--json] [--segments]`: score local audio files.

One row per clip: label, probability of bona fide, raw score, confidence,
duration, number of segments and the most suspicious segment (lowest score).
A clip that cannot be scored is an error row, never a crash. Exit status is 0
when every clip was scored, 1 when any was an error row, 2 when there is no model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from voxguard.errors import InputNotFound
from voxguard.settings import Settings

_COLUMNS = ("file", "label", "p_bonafide", "score", "confidence", "duration_s", "segments", "most_suspicious")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score-file` command."""
    parser = subparsers.add_parser(
        "score-file",
        help="score audio files with a model package and print a table",
        description="Score local audio files (wav, flac, mp3, ogg, m4a...) over their whole length.",
    )
    parser.add_argument("clips", nargs="+", type=Path, metavar="CLIP", help="local audio files")
    parser.add_argument(
        "--model", type=Path, default=None,
        help="model package (default: the registry's production model, else VOXGUARD_MODEL, else the bundled model)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per clip (JSON lines)")
    parser.add_argument("--segments", action="store_true", help="also print every segment's start, end and score")
    parser.set_defaults(func=_score_files)


def _score_files(args: argparse.Namespace) -> int:
    from voxguard.context import CommandContext

    settings = Settings.from_env()
    with CommandContext(settings) as ctx:
        # The one default-model rule (as `score`): --model, else the registry's production model,
        # else VOXGUARD_MODEL / the bundled model.
        model_path = ctx.model_path(args.model)
        if not Path(model_path).is_file():
            raise InputNotFound(f"no model package at {model_path}: pass --model PATH or set VOXGUARD_MODEL")
        package = ctx.package(args.model)  # InvalidPackage: one line
    from siamese.detector import Detector  # torch import deferred: keeps `voxguard --help` fast

    detector = Detector(package, max_duration_s=settings.max_duration_s, engine=settings.engine)
    results = [detector.score(clip, name=str(clip)) for clip in args.clips]
    if args.json:
        for result in results:
            record = result.to_dict()
            if not args.segments:
                record.pop("segments")
                record.update(_summary(result.to_dict()))
            print(json.dumps(record))
    else:
        print(f"model {detector.version} ({model_path})")
        print(format_table([_row(r.to_dict()) for r in results]))
        if args.segments:
            for result in results:
                print(format_segments(result.to_dict()))
    return 1 if any(r.error for r in results) else 0


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """Segment count and most suspicious (lowest-scoring) segment of a result dict."""
    segments = record.get("segments") or []
    worst = min(segments, key=lambda s: s["score"]) if segments else None
    return {
        "n_segments": len(segments),
        "most_suspicious": None if worst is None else {k: worst[k] for k in ("start_s", "end_s", "score")},
    }


def _row(record: dict[str, Any]) -> dict[str, str]:
    """Table cells of one clip (an error row when it was not scored)."""
    if record.get("error"):
        return {"file": record["source"], "label": "ERROR", "p_bonafide": record["error"]}
    summary = _summary(record)
    worst = summary["most_suspicious"]
    return {
        "file": record["source"],
        "label": record["label"],
        "p_bonafide": f"{record['prob_bonafide']:.3f}",
        "score": f"{record['score']:+.3f}",
        "confidence": f"{record['confidence']:.3f}",
        "duration_s": f"{record['duration_s']:.2f}",
        "segments": str(summary["n_segments"]),
        "most_suspicious": f"{worst['start_s']:.1f}-{worst['end_s']:.1f}s ({worst['score']:+.3f})" if worst else "",
    }


def format_table(rows: list[dict[str, str]]) -> str:
    """Fixed-width table; an error row spans from the p_bonafide column onwards."""
    widths = {c: len(c) for c in _COLUMNS}
    for row in rows:
        if row["label"] == "ERROR":
            for c in ("file", "label"):
                widths[c] = max(widths[c], len(row[c]))
            continue
        for c in _COLUMNS:
            widths[c] = max(widths[c], len(row.get(c, "")))
    lines = ["  ".join(c.ljust(widths[c]) for c in _COLUMNS).rstrip()]
    for row in rows:
        if row["label"] == "ERROR":
            lines.append(f"{row['file'].ljust(widths['file'])}  {row['label'].ljust(widths['label'])}  {row['p_bonafide']}")
        else:
            lines.append("  ".join(row.get(c, "").ljust(widths[c]) for c in _COLUMNS).rstrip())
    return "\n".join(lines)


def format_segments(record: dict[str, Any]) -> str:
    """All segments of one clip, one line each."""
    lines = [f"\n{record['source']}:"]
    if record.get("error"):
        return lines[0] + f" {record['error']}"
    for seg in record["segments"]:
        lines.append(f"  {seg['start_s']:7.2f}-{seg['end_s']:7.2f}s  score {seg['score']:+.3f}  p_bonafide {seg['prob_bonafide']:.3f}")
    return "\n".join(lines)
