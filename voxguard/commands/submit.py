"""`voxguard submit score|train|retrain --address URL -- ARGS...`: run a job on a Ray cluster."""

from __future__ import annotations

import argparse
import sys

from cluster.submit import KINDS


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
    options.add_argument("--submission-id", default=None)
    options.add_argument("--wait", action="store_true", help="follow the logs until the job ends")
    # One subparser per kind so that REMAINDER only starts after our own options
    # (with a sibling KIND positional it would swallow them).
    options.add_argument("args", nargs=argparse.REMAINDER, help="-- then the job's own arguments")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in KINDS:
        sub = kinds.add_parser(kind, parents=[options], help=f"run `voxguard {kind}` on the cluster")
        sub.set_defaults(func=_submit)


def _submit(args: argparse.Namespace) -> int:
    from cluster import jobs_api, submit
    from cluster.runtime_env import build_runtime_env

    quiet_ray_logs()
    job_args = list(args.args)
    if job_args and job_args[0] == "--":
        job_args = job_args[1:]
    env_vars = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"error: --env expects KEY=VALUE, got {item!r}")
            return 2
        env_vars[key] = value
    runtime_env = build_runtime_env(ship_code=not args.no_ship_code, pip=args.pip, env_vars=env_vars)
    submission_id = submit.submit(
        args.kind, job_args, args.address, runtime_env, submission_id=args.submission_id
    )
    print(submission_id)
    if not args.wait:
        return 0
    jobs_api.follow_logs(submission_id, sys.stdout.write, args.address)
    status = jobs_api.wait_for_job(submission_id, args.address, timeout_s=60)
    print(f"job {submission_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1
