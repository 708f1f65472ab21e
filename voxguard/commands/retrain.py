"""`voxguard retrain`: fine-tune the production model on verified feedback, gate, promote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voxguard.commands._options import add_db_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="retrain from reviewer feedback now (or run a scheduled run with --run-id)",
        description="Fine-tune the production model on its training data plus verified reviewer "
        "feedback; promote the challenger only if the gate says it is better.",
    )
    parser.add_argument("--run-id", type=int, help="the scheduled RetrainRun to execute (set by the scheduler)")
    parser.add_argument("--manifest", type=Path, help="training manifest (default: the one the model was trained on)")
    parser.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs")
    parser.add_argument("--feedback-weight", type=float, default=8.0, help="how much more often a feedback clip is drawn")
    parser.add_argument("--holdback", type=float, default=0.3, help="fraction of feedback held back for the gate")
    parser.add_argument("--num-workers", type=int, default=1, help="Ray Train workers")
    parser.add_argument("--seed", type=int, default=0, help="same seed, feedback and settings: the same challenger")
    parser.add_argument("--use-gpu", action="store_true", help="train on GPUs (one per worker)")
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
    from feedback.scheduler import default_holder, tick
    from jobs.retrain.job import RetrainConfig, run_retraining

    def execute(run_id: int) -> None:
        outcome = run_retraining(
            RetrainConfig(
                run_id=run_id, manifest=args.manifest, holdback_fraction=args.holdback,
                feedback_weight=args.feedback_weight, epochs=args.epochs,
                num_workers=args.num_workers, use_gpu=args.use_gpu, seed=args.seed,
            ),
            ctx.settings,
            sessions=ctx.sessions,  # the command's one engine, for the run record, registry and feedback
        )
        print(json.dumps({"run_id": outcome.run_id, "champion": outcome.champion, "challenger": outcome.challenger,
                          "promoted": outcome.promoted, "reason": outcome.gate["reason"]}, indent=2))

    if args.run_id is not None:
        execute(args.run_id)
        return 0
    # On demand: the same path as the scheduler (lease, run record), launched in this process.
    with session_scope(ctx.sessions) as session:
        request_retrain(session, requested_by="cli", reason="voxguard retrain")
    launched = tick(ctx.sessions, lambda run: execute(run.id), holder=default_holder())
    if launched is None:
        print("another retraining holds the lease; nothing started")
        return 1
    return 0
