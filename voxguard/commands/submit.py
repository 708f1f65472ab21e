"""`voxguard submit score|train|retrain --address URL -- ARGS...`: run a job on a Ray cluster."""

from __future__ import annotations

import argparse
import sys

from cluster.submit import KINDS
from voxguard.errors import UserError


def quiet_ray_logs() -> None:
    """Keep Ray's client chatter (packaging, websocket INFO lines) out of our CLI output."""
    import logging

    # Ray sets these loggers' levels when their modules load: load them, then override.
    import ray.dashboard.modules.job.sdk  # noqa: F401

    # The SDK modules set their own INFO level, so the parent's is not enough.
    for name in ("ray", "ray.dashboard.modules.dashboard_sdk", "ray.dashboard.modules.job.sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "'.git' is now ignored by default" on every upload: we exclude it anyway.
    logging.getLogger("ray._private.runtime_env.working_dir").setLevel(logging.ERROR)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `submit score|train|retrain`."""
    parser = subparsers.add_parser(
        "submit",
        help="submit score/train/retrain to a Ray cluster (Jobs API)",
        description="voxguard submit KIND [options] -- ARGS: ARGS go to `voxguard KIND` on the cluster.",
    )
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--address",
        default=None,
        help="dashboard URL, e.g. http://HOST:8265 (default: RAY_API_SERVER_ADDRESS, "
        "the `cluster up` head, then http://127.0.0.1:8265)",
    )
    options.add_argument(
        "--no-ship-code",
        action="store_true",
        help="run the voxguard installed on the cluster instead of uploading this checkout",
    )
    options.add_argument(
        "--pip",
        action="store_true",
        help="install the pinned dependencies in the job's env (bare clusters; slow first run)",
    )
    options.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra job env var"
    )
    options.add_argument("--submission-id", default=None, help="job id to use (default: Ray picks one)")
    options.add_argument("--wait", action="store_true", help="follow the logs until the job ends")
    # One subparser per kind so that REMAINDER only starts after our own options
    # (with a sibling KIND positional it would swallow them).
    options.add_argument("args", nargs=argparse.REMAINDER, help="-- then the job's own arguments")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in KINDS:
        sub = kinds.add_parser(kind, parents=[options], help=f"run `voxguard {kind}` on the cluster")
        sub.set_defaults(func=_submit)


# Our own flags (those taking a value first): after the job's first argument, argparse hands them to the job.
OWN_VALUE_OPTIONS = ("--address", "--env", "--submission-id")
OWN_OPTIONS = (*OWN_VALUE_OPTIONS, "--no-ship-code", "--pip", "--wait")


def job_arguments(args: list[str], kind: str) -> list[str]:
    """The job's own arguments: everything after `--`, or after submit's options.

    Without `--`, one of submit's own flags among them was meant for submit
    (`submit score PATH --out X --wait`): argparse would silently pass it to the
    job, which fails later on the cluster, so it is refused here with the fix.
    """
    if args and args[0] == "--":
        return args[1:]
    ours: list[str] = []
    theirs: list[str] = []
    rest = iter(args)
    for arg in rest:
        name = arg.split("=", 1)[0]
        if name not in OWN_OPTIONS:
            theirs.append(arg)
            continue
        ours.append(arg)
        if name in OWN_VALUE_OPTIONS and "=" not in arg:
            ours.append(next(rest, ""))
    if ours:
        flags = [a for a in ours if a.split("=", 1)[0] in OWN_OPTIONS]
        raise UserError(
            f"{', '.join(flags)} after the job's arguments would go to the job: put submit's options first and "
            f"the job's after `--`: voxguard submit {kind} {' '.join(ours)} -- {' '.join(theirs)}"
        )
    return args


def _submit(args: argparse.Namespace) -> int:
    from cluster import jobs_api, submit
    from cluster.runtime_env import build_runtime_env
    from voxguard.commands._options import jobs_address

    job_args = job_arguments(list(args.args), args.kind)
    quiet_ray_logs()
    env_vars = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--env expects KEY=VALUE, got {item!r}")
        env_vars[key] = value
    runtime_env = build_runtime_env(ship_code=not args.no_ship_code, pip=args.pip, env_vars=env_vars)
    address = jobs_address(args)
    submission_id = submit.submit(args.kind, job_args, address, runtime_env, submission_id=args.submission_id)
    print(submission_id)
    if not args.wait:
        return 0
    jobs_api.follow_logs(submission_id, sys.stdout.write, address)
    status = jobs_api.wait_for_job(submission_id, address, timeout_s=60)
    print(f"job {submission_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1
