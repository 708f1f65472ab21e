"""`voxguard score SOURCE --out DEST`: score an archive into Parquet (see jobs.score)."""

from __future__ import annotations

import argparse
import json
import sys

from jobs.score.executors import EXECUTORS
from siamese.config import ENGINES
from voxguard.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score` command."""
    parser = subparsers.add_parser(
        "score",
        help="score every clip of a folder, glob, s3:// prefix or manifest into Parquet",
        description="SOURCE: folder, glob, file, s3://bucket/prefix, or a .csv/.parquet manifest "
        "with a `uri` column. DEST: local folder or s3://bucket/prefix (Parquet parts).",
    )
    parser.add_argument("source", help="folder, glob, file, s3://bucket/prefix or .csv/.parquet manifest")
    parser.add_argument("--out", required=True, metavar="DEST", help="output folder or s3://bucket/prefix")
    parser.add_argument("--model", default=None, help="model package (default: the registry's production model, else VOXGUARD_MODEL, else the bundled model)")
    parser.add_argument("--resume", action="store_true", help="skip objects DEST already has (same fingerprint+model)")
    parser.add_argument("--overwrite", action="store_true", help="delete DEST's existing parts first")
    parser.add_argument("--limit", type=int, default=None, help="score at most N objects")
    parser.add_argument("--batch-size", type=int, default=None, help="inference batch, in windows (default 64)")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="inference engine (default: VOXGUARD_ENGINE or auto: bf16 where the hardware has it, "
                             "else int8 on CPUs, float on GPUs); see docs/benchmarks.md")
    parser.add_argument("--executor", choices=EXECUTORS, default=None,
                        help="where the scoring runs (default: VOXGUARD_EXECUTOR or auto: this process on a machine "
                             "with 2 cores or fewer and no GPU or cluster, else Ray Data); see docs/scoring.md")
    parser.add_argument("--num-actors", type=int, default=None, help="inference actors (0 = automatic)")
    parser.add_argument("--gpus-per-actor", type=float, default=None, help="GPU fraction per actor when GPUs exist")
    parser.add_argument("--s3-endpoint", default=None, help="S3-compatible endpoint URL (or VOXGUARD_S3_ENDPOINT)")
    parser.add_argument("--ray-address", default=None, help="Ray cluster (default: embedded local Ray)")
    parser.add_argument("--job-id", default=None, help="job id (default: new, or the resumed job's)")
    parser.add_argument("--part-size", type=int, default=1000, help="clips per Parquet part (the resume granularity)")
    parser.add_argument("--top", type=int, default=10, help="most suspicious clips to list")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--group", default=None,
        help="also compare against this group's enrolled bona fide references (see `voxguard enroll`)",
    )
    parser.add_argument(
        "--no-feedback", action="store_true",
        help="do not record scores and flagged clips in the feedback database (VOXGUARD_DB_URL)",
    )
    parser.set_defaults(func=_score)


def _score(args: argparse.Namespace) -> int:
    from voxguard.context import CommandContext

    settings = Settings.from_env(s3_endpoint=args.s3_endpoint, ray_address=args.ray_address)
    with CommandContext(settings) as ctx:
        return _run(args, ctx)


def _run(args: argparse.Namespace, ctx) -> int:  # noqa: ANN001 - voxguard.context.CommandContext
    from sqlalchemy.exc import SQLAlchemyError

    from jobs.score.feedback_sink import FeedbackSink
    from jobs.score.pipeline import run_scoring
    from jobs.score.summary import format_summary

    # --model, else the registry's production model, else the bundled one. An unreadable registry is a
    # RegistryUnavailable (one line, exit 2): never a silent switch to another model.
    # By reference: this process reads the package's metadata only; whoever scores loads the weights
    # from the file (Ray's actors, or this process with the local executor: jobs.score.executors).
    package = ctx.model_ref(args.model)  # resolved once, on the command's one database engine
    sink = None
    if not args.no_feedback:
        ctx.migrate()  # idempotent and cheap: a scoring job never meets a missing schema
        sink = FeedbackSink(ctx.sessions, args.source, args.out)
    enrolled = None
    if args.group:
        from jobs.enroll import group_bank

        enrolled = group_bank(ctx.sessions, package.version, args.group)  # keyed by the model's version
        if enrolled is None:
            print(f"warning: group {args.group!r} has no enrolled references for this model", file=sys.stderr)
    try:
        summary = run_scoring(
            args.source,
            args.out,
            package,
            settings=ctx.settings,
            resume=args.resume,
            overwrite=args.overwrite,
            limit=args.limit,
            batch_size=args.batch_size,
            num_actors=args.num_actors,
            gpus_per_actor=args.gpus_per_actor,
            job_id=args.job_id,
            part_size=args.part_size,
            top_n=args.top,
            on_rows=sink.on_rows if sink else None,
            replay=sink is not None,  # --resume re-records parts the database may have missed
            group=args.group,
            enrolled=enrolled,
            engine=args.engine,
            executor=args.executor,
        )
    except SQLAlchemyError as error:  # the feedback database failed mid-job: stop cleanly, say how to recover
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if sink is not None:
            sink.fail()
        print(f"error: the feedback database failed ({reason}); the Parquet parts written so far are "
              "complete: run again with --resume once the database is back (it records them again)",
              file=sys.stderr)
        return 1
    if sink is not None:
        sink.finish(summary)
        summary["review_items_created"] = sink.items_created
        from feedback.alerts import scoring_finished  # webhooks: job finished, spoofs found, queue backlog

        scoring_finished(ctx.sessions, summary)  # the command's one engine
    print(json.dumps(summary, indent=2, default=str) if args.json else format_summary(summary))
    return 0
