"""`voxguard retrain`: fine-tune the production model on verified feedback, gate, promote.

The training options are declared once here (`add_retrain_options`) and also
taken by `voxguard scheduler`, which hands them to the runs it launches
(`retrain_argv`), so a scheduled run trains exactly as a hand-started one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voxguard.commands._options import add_db_url

# (flag, argparse keywords); the order is the order of `--help` and of the forwarded argv.
_OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--manifest", dict(type=Path, help="base training manifest (default: the corpus the production model names; "
                                         "if it is not built, the bundled sample set, with a warning)")),
    ("--epochs", dict(type=int, default=4, help="fine-tuning epochs (default 4)")),
    ("--batches-per-epoch", dict(type=int, help="batches per epoch (default: one pass over the training clips); "
                                               "small values make a quick trial run")),
    ("--feedback-weight", dict(type=float, default=8.0, help="how much more often a feedback clip is drawn (default 8)")),
    ("--holdback", dict(type=float, default=0.3, help="fraction of feedback held back for the gate (default 0.3)")),
    ("--num-workers", dict(type=int, default=1, help="Ray Train workers (default 1)")),
    ("--seed", dict(type=int, default=0, help="same seed, feedback and settings: the same challenger")),
    ("--use-gpu", dict(action="store_true", help="train on GPUs (one per worker)")),
)


def add_retrain_options(parser: argparse.ArgumentParser) -> None:
    """The training options shared by `retrain` and `scheduler`."""
    for flag, kwargs in _OPTIONS:
        parser.add_argument(flag, **kwargs)


def retrain_argv(args: argparse.Namespace) -> list[str]:
    """The options the user gave, as `voxguard retrain` arguments (defaults left out)."""
    argv: list[str] = []
    for flag, kwargs in _OPTIONS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if kwargs.get("action") == "store_true":
            argv += [flag] if value else []
        elif value is not None and value != kwargs.get("default"):
            argv += [flag, str(Path(value).resolve()) if isinstance(value, Path) else str(value)]
    return argv


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="retrain from reviewer feedback now (or run a scheduled run with --run-id)",
        description="Fine-tune the production model on its training data plus verified reviewer "
        "feedback; promote the challenger only if the gate says it is better. Prints progress, then "
        "the gate's decision and why.",
    )
    parser.add_argument("--run-id", type=int, help="the scheduled RetrainRun to execute (set by the scheduler)")
    add_retrain_options(parser)
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON (progress still goes to stderr)")
    add_db_url(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxguard.context import CommandContext
    from voxguard.settings import Settings

    with CommandContext(Settings.from_env(db_url=args.db_url)) as ctx:
        return _run(args, ctx)


def _run(args: argparse.Namespace, ctx) -> int:  # noqa: ANN001 - voxguard.context.CommandContext
    from feedback.db import session_scope
    from feedback.policy import request_retrain
    from feedback.runs import describe_run, get_run, run_record
    from feedback.scheduler import default_holder, tick
    from jobs.retrain.job import RetrainConfig, preflight, run_retraining

    settings = ctx.settings
    factory = ctx.sessions  # the command's one engine, for the run record, registry and feedback

    def say(line: str) -> None:
        print(f"[retrain] {line}", file=sys.stderr, flush=True)

    def config(run_id: int) -> RetrainConfig:
        return RetrainConfig(
            run_id=run_id, manifest=args.manifest, holdback_fraction=args.holdback,
            feedback_weight=args.feedback_weight, epochs=args.epochs, batches_per_epoch=args.batches_per_epoch,
            num_workers=args.num_workers, use_gpu=args.use_gpu, seed=args.seed,
        )

    def execute(run_id: int) -> None:
        run_retraining(config(run_id), settings, report=say, sessions=factory)

    if args.run_id is not None:
        run_id = args.run_id
        execute(run_id)
    else:
        # Preconditions first: a run that cannot succeed is not recorded, let alone trained.
        preflight(config(0), settings, factory)
        # On demand: the same path as the scheduler (lease, run record), launched in this process.
        with session_scope(factory) as session:
            request_retrain(session, requested_by="cli", reason="voxguard retrain")
        failure: list[BaseException] = []

        def launch(r) -> None:  # noqa: ANN001 - a RetrainRun
            try:
                execute(r.id)
            except BaseException as error:  # the run row already says failed; raised below, not as a launch failure
                failure.append(error)

        launched = tick(factory, launch, holder=default_holder())
        if failure:
            raise failure[0]
        if launched is None:
            print("another retraining holds the lease; nothing started", file=sys.stderr)
            return 1
        run_id = launched.id
    with session_scope(factory) as session:
        finished = get_run(session, run_id)
        if args.json:
            print(json.dumps(run_record(finished), indent=2, default=str))
        else:
            print(describe_run(finished))
    return 0
