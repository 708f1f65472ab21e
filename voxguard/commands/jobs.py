"""`voxguard jobs list|status|logs|stop`: look after jobs on a Ray cluster."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from voxguard.commands._options import jobs_address
from voxguard.commands.submit import quiet_ray_logs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `jobs` command and its actions."""
    parser = subparsers.add_parser("jobs", help="list, inspect, follow or stop cluster jobs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    address = argparse.ArgumentParser(add_help=False)
    address.add_argument("--address", default=None, help="dashboard URL, e.g. http://HOST:8265")

    ls = actions.add_parser("list", parents=[address], help="all jobs, oldest first")
    ls.add_argument("--json", action="store_true", help="print the jobs as JSON")
    ls.set_defaults(func=_list)

    status = actions.add_parser("status", parents=[address], help="one job's status")
    status.add_argument("submission_id", help="as printed by `voxguard submit` or `jobs list`")
    status.add_argument("--wait", action="store_true", help="block until it finishes")
    status.add_argument("--timeout", type=float, default=3600.0, help="seconds, with --wait")
    status.set_defaults(func=_status)

    logs = actions.add_parser("logs", parents=[address], help="a job's driver log")
    logs.add_argument("submission_id", help="as printed by `voxguard submit` or `jobs list`")
    logs.add_argument("-f", "--follow", action="store_true", help="stream until the job ends")
    logs.set_defaults(func=_logs)

    stop = actions.add_parser("stop", parents=[address], help="stop a running job")
    stop.add_argument("submission_id", help="as printed by `voxguard submit` or `jobs list`")
    stop.set_defaults(func=_stop)


def _when(ms: object) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(float(ms) / 1000).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]


def _list(args: argparse.Namespace) -> int:
    from cluster import jobs_api

    quiet_ray_logs()
    jobs = jobs_api.list_jobs(jobs_address(args))
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    print("\n".join(job_lines(jobs, args.address)))
    return 0


def job_lines(jobs: list[dict], address: str | None) -> list[str]:
    """`jobs list` as text: a header and one line per job, or a sentence when there are none."""
    if not jobs:
        return [f"no jobs on {address or 'the cluster'} yet (`voxguard submit score ...` starts one)"]
    width = max(len("submission id"), *(len(str(j["submission_id"])) for j in jobs))
    lines = [f"{'submission id':{width}}  {'status':<9}  {'started':19}  entrypoint"]
    for job in jobs:
        lines.append(f"{job['submission_id']:{width}}  {job['status']:<9}  {_when(job['start_time']):19}  "
                     f"{job['entrypoint']}")
    return lines


def _status(args: argparse.Namespace) -> int:
    from cluster import jobs_api

    quiet_ray_logs()
    if args.wait:
        status = jobs_api.wait_for_job(args.submission_id, jobs_address(args), timeout_s=args.timeout)
        print(status)
        return 0 if status == "SUCCEEDED" else 1
    info = jobs_api.job_info(args.submission_id, jobs_address(args))
    print(info["status"])
    if info["message"]:
        print(info["message"])
    return 0


def _logs(args: argparse.Namespace) -> int:
    from cluster import jobs_api

    quiet_ray_logs()
    if args.follow:
        jobs_api.follow_logs(args.submission_id, sys.stdout.write, jobs_address(args))
    else:
        sys.stdout.write(jobs_api.job_logs(args.submission_id, jobs_address(args)))
    return 0


def _stop(args: argparse.Namespace) -> int:
    from cluster import jobs_api

    quiet_ray_logs()
    stopped = jobs_api.stop_job(args.submission_id, jobs_address(args))
    print("stop requested" if stopped else "job had already finished")
    return 0
