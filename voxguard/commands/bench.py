"""`voxguard bench score`: pipeline vs naive loop vs decode-only, as a Markdown table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voxguard.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` command (with its `score` benchmark)."""
    parser = subparsers.add_parser("bench", help="benchmarks (not tests)")
    kinds = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    score = kinds.add_parser("score", help="scoring throughput and memory on generated clips")
    score.add_argument("--files", type=int, default=200, help="generated clips (3-12 s, mixed formats)")
    score.add_argument("--model", default=None, help="model package (default: the bundled one)")
    score.add_argument("--workdir", default=None, help="where clips and outputs go (default: a temp dir)")
    score.add_argument(
        "--memory-scales", default="", help="also measure peak memory at these clip counts, e.g. 1000,5000"
    )
    score.add_argument("--batch-size", type=int, default=None, help="inference batch, in windows (default: settings)")
    score.add_argument("--num-actors", type=int, default=None, help="inference actors (default: automatic)")
    score.add_argument("--rounds", type=int, default=1,
                       help="interleaved rounds; each row keeps its fastest (a shared machine's load varies)")
    score.add_argument("--no-two-stage", action="store_true", help="skip the two-stage pipeline row")
    score.add_argument("--json", default=None, help="also write the raw numbers to this JSON file")
    score.set_defaults(func=_bench_score)


def _bench_score(args: argparse.Namespace) -> int:
    from voxguard.bench.score import format_table, run_bench

    model = Path(args.model) if args.model else Settings.from_env().model_path
    if not model.exists():
        print(f"error: no model package at {model}; pass --model", file=sys.stderr)
        return 2
    scales = tuple(int(s) for s in args.memory_scales.split(",") if s.strip())
    result = run_bench(
        args.files,
        model,
        Path(args.workdir) if args.workdir else None,
        scales,
        batch_size=args.batch_size,
        num_actors=args.num_actors,
        log=lambda line: print(line, file=sys.stderr, flush=True),
        rounds=args.rounds,
        two_stage=not args.no_two_stage,
    )
    table = format_table(result)
    print(f"`voxguard bench score --files {args.files}" + (f" --memory-scales {args.memory_scales}`" if scales else "`"))
    print()
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
