"""`voxguard scheduler` (periodic policy check) and `voxguard policy show | set | request`."""

from __future__ import annotations

import argparse
import getpass
import logging

from voxguard.commands._options import add_db_url, add_db_url_to_command, db_url, leaf_parsers
from voxguard.commands.retrain import add_retrain_options, retrain_argv


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `scheduler` and `policy` commands."""
    sch = subparsers.add_parser(
        "scheduler", help="check the retraining policy periodically and launch retraining",
        description="Check the retraining policy every --interval seconds; when a retraining is due (a request, "
        "enough mismatches, or age), launch `voxguard retrain` with the training options given here.")
    sch.add_argument("--interval", type=float, default=300.0, help="seconds between checks (default 300)")
    sch.add_argument("--once", action="store_true",
                     help="check once; a local run is waited for and its outcome printed, then exit")
    sch.add_argument("--ray-address", help="submit through the Ray Jobs API at this address "
                     "(default: VOXGUARD_RAY_ADDRESS; empty runs `voxguard retrain` locally)")
    add_retrain_options(sch)
    sch.set_defaults(func=_scheduler)
    add_db_url(sch)

    pol = subparsers.add_parser("policy", help="retraining policy and review rule")
    sub = pol.add_subparsers(dest="policy_command", required=True)
    sub.add_parser("show", help="stored policy, the retry rule, the last run and what it decides now"
                   ).set_defaults(func=_show)
    rn = sub.add_parser("runs", help="recent retraining runs: status, gate decision and why, or the error")
    rn.add_argument("--limit", type=int, default=10, help="how many runs, newest first (default 10)")
    rn.set_defaults(func=_runs)
    st = sub.add_parser("set", help="change policy values")
    st.add_argument("--min-mismatches", type=int, help="retrain once this many verdicts contradict the model")
    st.add_argument("--max-age-days", type=float, help="retrain when the production model is older than this")
    st.add_argument("--required-agreement", type=int, help="reviewers that must agree without a lead")
    st.add_argument("--enable", dest="enabled", action="store_const", const=True, help="turn scheduled retraining on")
    st.add_argument("--disable", dest="enabled", action="store_const", const=False,
                    help="turn scheduled retraining off")
    st.set_defaults(func=_set)
    rq = sub.add_parser("request", help="request a retraining at the next scheduler check")
    rq.add_argument("--reason", help="why (kept in the run record and the audit log)")
    rq.set_defaults(func=_request)
    add_db_url_to_command(pol, leaf_parsers(pol))


def _scheduler(args: argparse.Namespace) -> int:
    from feedback.db import session_factory
    from feedback.runs import describe_run, get_run
    from feedback.scheduler import default_launcher, run_scheduler
    from voxguard.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(db_url=args.db_url)
    url = settings.database_url
    ray_address = settings.ray_address if args.ray_address is None else args.ray_address
    if args.manifest is not None and not args.manifest.exists():
        from voxguard.errors import InputNotFound

        raise InputNotFound(f"--manifest {args.manifest} does not exist")
    launcher = default_launcher(url, ray_address, retrain_argv(args), wait=args.once, data_dir=settings.data_dir)
    run = run_scheduler(url, args.interval, launcher, once=args.once)
    if args.once:
        if run is None:
            print("no retraining due (`voxguard policy show` says why)")
        elif ray_address:
            print(f"launched retraining run {run.id} ({run.trigger}) on the cluster; `voxguard policy runs` "
                  "shows its outcome")
        else:  # the run printed its own progress and outcome; add what the scheduler knows
            from feedback.policy import RETRY_RULE

            with session_factory(url)() as s:
                done = get_run(s, run.id)
                if done.status == "failed":
                    print(f"run {done.id} failed: {done.error}\n{RETRY_RULE}")
                elif done.status != "succeeded":
                    print(describe_run(done))
    return 0


def _show(args: argparse.Namespace) -> int:
    from feedback.db import session_factory
    from feedback.policy import RETRY_RULE, get_policy, should_retrain
    from feedback.runs import describe_run, list_runs

    with session_factory(db_url(args))() as s:
        p = get_policy(s)
        d = should_retrain(s)
        last = list_runs(s, limit=1)
        print(f"enabled={p.enabled} min_mismatches={p.min_mismatches} max_age_days={p.max_age_days} "
              f"required_agreement={p.required_agreement} (updated {p.updated_at:%Y-%m-%d %H:%M} by {p.updated_by})")
        print(f"retry rule: {RETRY_RULE}")
        print("last run: " + (describe_run(last[0]) if last else "none yet"))
        print(f"now: {'retrain (' + d.trigger + ')' if d.trigger else 'no retraining'}: {d.reason}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from feedback.db import session_factory
    from feedback.runs import describe_run, list_runs

    with session_factory(db_url(args))() as s:
        runs = list_runs(s, limit=args.limit)
        if not runs:
            print("no retraining runs yet (`voxguard policy request` asks for one)")
        for run in runs:
            print(describe_run(run))
    return 0


def _set(args: argparse.Namespace) -> int:
    from feedback.db import session_factory, session_scope
    from feedback.policy import update_policy

    with session_scope(session_factory(db_url(args))) as s:
        update_policy(s, min_mismatches=args.min_mismatches, max_age_days=args.max_age_days, enabled=args.enabled,
                      required_agreement=args.required_agreement, actor=getpass.getuser())
    return _show(args)


def _request(args: argparse.Namespace) -> int:
    from feedback.db import session_factory, session_scope
    from feedback.policy import request_retrain

    with session_scope(session_factory(db_url(args))) as s:
        run = request_retrain(s, getpass.getuser(), args.reason)
        run_id = run.id
    print(f"retraining requested (run {run_id}); `voxguard scheduler` launches it at its next check "
          "(it must be running; `voxguard scheduler --once` checks now and waits for the run)")
    return 0
