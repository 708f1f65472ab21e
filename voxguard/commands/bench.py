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
    score.add_argument("--model", default=None, help="model package (default: the registry's production model, else VOXGUARD_MODEL, else the bundled model)")
    score.add_argument("--workdir", default=None, help="where clips and outputs go (default: a temp dir)")
    score.add_argument(
        "--memory-scales", default="", help="also measure peak memory at these clip counts, e.g. 1000,5000"
    )
    score.add_argument("--batch-size", type=int, default=None, help="inference batch, in windows (default: settings)")
    score.add_argument("--num-actors", type=int, default=None, help="inference actors (default: automatic)")
    score.add_argument("--rounds", type=int, default=1,
                       help="interleaved rounds; each row keeps its fastest (a shared machine's load varies)")
    score.add_argument("--no-two-stage", action="store_true", help="skip the two-stage pipeline row")
    score.add_argument("--core-rows", action="store_true",
                       help="only the decode floor, the naive loop and the pipeline (both with the default engine): "
                            "with --rounds, the cheapest way to a like-for-like ratio on a noisy machine")
    score.add_argument("--json-out", metavar="FILE", default=None,
                       help="also write the raw numbers to this JSON file (elsewhere --json is a flag that prints JSON)")
    score.add_argument("--engine", action="append", default=[], choices=("float", "bf16", "int8", "onnx"),
                       help="also run the pipeline with this engine (repeatable)")
    score.set_defaults(func=_bench_score)

    engines = kinds.add_parser(
        "engines", help="EER of each inference engine on the test split and devset (the default-engine rule)"
    )
    engines.add_argument("--model", default=None, help="model package (default: the bundled one)")
    engines.add_argument("--manifest", default=None,
                         help="training corpus manifest whose test split is scored (default: "
                         "var/corpus/manifest.parquet, else var/corpus/base/manifest.parquet)")
    engines.add_argument("--devset", default="../shared/devset", help="cross-corpus devset folder (manifest.csv)")
    engines.add_argument("--engines", default="float,bf16,int8", help="comma-separated engines (float is the reference)")
    engines.add_argument("--max-clips", type=int, default=None, help="sample this many clips per set")
    engines.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    engines.add_argument("--json-out", metavar="FILE", default=None,
                       help="also write the raw numbers to this JSON file (elsewhere --json is a flag that prints JSON)")
    engines.set_defaults(func=_bench_engines)


def _bench_score(args: argparse.Namespace) -> int:
    from voxguard.bench.score import format_table, run_bench

    from voxguard.context import CommandContext

    with CommandContext(Settings.from_env()) as ctx:
        model = ctx.model_path(args.model)  # the one default-model rule; a missing package is one line, exit 2
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
        engines=tuple(args.engine),
        core_rows=args.core_rows,
        settings=ctx.settings,
    )
    table = format_table(result)
    flags = "".join(f" --engine {e}" for e in args.engine) + (f" --memory-scales {args.memory_scales}" if scales else "")
    flags += (" --core-rows" if args.core_rows else "") + (f" --rounds {args.rounds}" if args.rounds > 1 else "")
    print(f"`voxguard bench score --files {args.files}{flags}`")
    print()
    print(table)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0


def _bench_engines(args: argparse.Namespace) -> int:
    from voxguard.bench.engines import clip_sets, format_engines, run_engines

    settings = Settings.from_env()
    model = Path(args.model) if args.model else settings.model_path
    if not model.exists():
        print(f"voxguard: error: no model package at {model}; pass --model", file=sys.stderr)
        return 2
    manifest = Path(args.manifest) if args.manifest else next(
        (p for p in (Path("var/corpus/manifest.parquet"), Path("var/corpus/base/manifest.parquet")) if p.exists()),
        Path("var/corpus/manifest.parquet"))
    args.manifest = str(manifest)
    sets = clip_sets(manifest, Path(args.devset), args.max_clips)
    if not sets:
        print(f"voxguard: error: neither {args.manifest} nor {args.devset}/manifest.csv exists", file=sys.stderr)
        return 2
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    result = run_engines(model, sets, engines, Path(settings.data_dir) / "cache" / "engines", args.threads,
                         log=lambda line: print(line, file=sys.stderr, flush=True))
    command = f"voxguard bench engines --engines {args.engines}" + (
        f" --max-clips {args.max_clips}" if args.max_clips else "")
    print(f"`{command}` (manifest {args.manifest}, devset {args.devset})")
    print()
    print(format_engines(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0
