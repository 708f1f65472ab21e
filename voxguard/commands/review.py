"""`voxguard review list | verdict | export | reviewers ...`: reviewing without the dashboard."""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys

from voxguard.commands._options import add_db_url_to_command, db_url, leaf_parsers


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `review` command."""
    parser = subparsers.add_parser("review", help="review queue: list items, record verdicts, manage reviewers")
    sub = parser.add_subparsers(dest="review_command", required=True)

    ls = sub.add_parser("list", help="open queue items, highest priority first")
    ls.add_argument("--limit", type=int, default=20, help="items to show")
    ls.add_argument("--job", help="only clips scored by this job id")
    ls.add_argument("--all", action="store_true", help="include decided items")
    ls.set_defaults(func=_list)

    vd = sub.add_parser("verdict", help="record a verdict on a clip")
    vd.add_argument("clip", help="clip URI as listed")
    vd.add_argument("--as", dest="verdict", required=True, choices=["bonafide", "spoof", "unsure"],
                    help="the verdict")
    vd.add_argument("--note", help="free-text note kept with the verdict")
    vd.add_argument("--reviewer", default=os.environ.get("VOXGUARD_REVIEWER") or getpass.getuser(),
                    help="your reviewer account (VOXGUARD_REVIEWER, else the login name); its password from "
                         "VOXGUARD_REVIEWER_PASSWORD or a prompt")
    vd.add_argument("--model-version", help="which model's queue item (default: the latest)")
    vd.set_defaults(func=_verdict)

    ex = sub.add_parser("export", help="write every verdict (reviewer, time, note, clip, model version, "
                                       "model output, final verdict) to CSV or Parquet")
    ex.add_argument("out", help="output file (.csv or .parquet; '-' writes CSV to stdout)")
    ex.add_argument("--format", choices=["csv", "parquet"], default=None,
                    help="file format (default: from the file name's suffix)")
    ex.add_argument("--since", default=None, help="only verdicts given after this UTC date/time (ISO 8601)")
    ex.add_argument("--job", default=None, help="only verdicts on clips of this scoring job id")
    ex.set_defaults(func=_export)

    rv = sub.add_parser("reviewers", help="reviewer accounts")
    rsub = rv.add_subparsers(dest="reviewers_command", required=True)
    add = rsub.add_parser("add", help="add a reviewer (password from VOXGUARD_REVIEWER_PASSWORD or a prompt)")
    add.add_argument("name", help="sign-in name")
    add.add_argument("--role", default="reviewer", choices=["reviewer", "lead", "operator", "admin"],
                     help="lead: decides alone; operator: also submits scoring jobs; admin: also manages accounts")
    add.set_defaults(func=_add_reviewer)
    rls = rsub.add_parser("list", help="list reviewers")
    rls.set_defaults(func=_list_reviewers)
    for action, text in (("disable", "stop an account from signing in and recording verdicts"),
                         ("enable", "re-enable a disabled account")):
        sp = rsub.add_parser(action, help=text)
        sp.add_argument("name", help="sign-in name")
        sp.set_defaults(func=_set_active, active=action == "enable")
    add_db_url_to_command(parser, leaf_parsers(parser))


def _factory(args: argparse.Namespace):
    from feedback.db import session_factory

    return session_factory(db_url(args))


def _list(args: argparse.Namespace) -> int:
    from feedback.queue.listing import QueueFilter, list_queue

    with _factory(args)() as s:
        page = list_queue(s, QueueFilter(status=None if args.all else "open", job_id=args.job), page_size=args.limit)
    if not page.rows:
        scope = "items" if args.all else "open items"
        print(f"no {scope} in the review queue" + (f" for job {args.job}" if args.job else "")
              + ("" if args.all else " (`--all` includes decided ones)"))
        return 0
    print(f"{page.total} item(s)" + (f", showing {len(page.rows)}" if page.total > len(page.rows) else ""))
    print(f"{'item':>7}  {'prio':>5}  {'model':12} {'score':>6}  {'status':7} {'verdict':8} {'reviews':>7}  clip")
    for r in page.rows:
        score = "-" if r.model_score is None else f"{r.model_score:.3f}"
        print(f"{r.item_id:>7}  {r.priority:5.2f}  {r.model_label or '-':12} {score:>6}  {r.status:7} "
              f"{r.final_verdict or '-':8} {r.n_reviews:>7}  {r.uri}")
    return 0


def _password(prompt: str) -> str | None:
    """VOXGUARD_REVIEWER_PASSWORD, else a prompt on a terminal; None when neither is possible."""
    if password := os.environ.get("VOXGUARD_REVIEWER_PASSWORD"):
        return password
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(prompt)


def _verdict(args: argparse.Namespace) -> int:
    from feedback.db import session_scope
    from feedback.queue.listing import item_for_clip
    from feedback.queue.verdicts import record_verdict
    from feedback.signin import sign_in

    # A verdict feeds retraining: it needs the reviewer's own credentials, as in the dashboard.
    password = _password(f"password for {args.reviewer}: ")
    if password is None:
        print("error: set VOXGUARD_REVIEWER_PASSWORD or run in a terminal to be asked for it", file=sys.stderr)
        return 2
    with session_scope(_factory(args)) as s:
        outcome = sign_in(s, args.reviewer, password, channel="cli",
                          client=f"cli:{getpass.getuser()}@{socket.gethostname()}")
    if outcome.reviewer is None:
        print(f"error: {outcome.message}", file=sys.stderr)
        return 1
    args.reviewer = outcome.reviewer.username  # the account's own spelling is what verdicts record
    with session_scope(_factory(args)) as s:
        item = item_for_clip(s, args.clip, args.model_version)
        if item is None:
            print(f"no queue item for {args.clip}", file=sys.stderr)
            return 1
        res = record_verdict(s, item.id, args.reviewer, args.verdict, args.note)  # Forbidden: one line, exit 2
    print(f"recorded {args.verdict} by {args.reviewer}; item {res.item_id} is {res.status}"
          + (f" (final: {res.final_verdict})" if res.final_verdict else ""))
    return 0


def _export(args: argparse.Namespace) -> int:
    import datetime as dt

    from feedback.db import session_scope
    from feedback.export import format_for, write_verdicts
    from voxguard.errors import InputError

    fmt = "csv" if args.out == "-" and not args.format else format_for(args.out, args.format)
    since = None
    if args.since:
        try:
            since = dt.datetime.fromisoformat(args.since)
        except ValueError:
            raise InputError(f"--since must be an ISO 8601 date or time, not {args.since!r}") from None
        since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
    if args.out == "-":
        if fmt != "csv":
            raise InputError("only CSV can be written to stdout")
        with session_scope(_factory(args)) as s:
            n = write_verdicts(s, sys.stdout.buffer, fmt, actor=getpass.getuser(), since=since, job_id=args.job)
        print(f"{n} verdict(s)", file=sys.stderr)
        return 0
    out = os.path.abspath(args.out)
    if not os.path.isdir(os.path.dirname(out)):
        raise InputError(f"cannot write {args.out}: its folder does not exist")
    tmp = out + ".partial"
    try:
        with session_scope(_factory(args)) as s:
            n = write_verdicts(s, tmp, fmt, actor=getpass.getuser(), since=since, job_id=args.job)
        os.replace(tmp, out)  # a reader never sees half a file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {n} verdict(s) to {args.out} ({fmt})")
    return 0


def _add_reviewer(args: argparse.Namespace) -> int:
    from feedback.db import session_scope, upgrade
    from feedback.reviewers import add_reviewer

    password = os.environ.get("VOXGUARD_REVIEWER_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
    # Adding the first account is how a deployment is set up: create or migrate the schema first
    # (idempotent; serialised on PostgreSQL), as `voxguard dashboard` does.
    upgrade(db_url(args))
    with session_scope(_factory(args)) as s:
        add_reviewer(s, args.name, password, role=args.role, actor=getpass.getuser())
    print(f"added {args.role} {args.name}")
    return 0


def _set_active(args: argparse.Namespace) -> int:
    from feedback.db import session_scope
    from feedback.reviewers import set_active

    with session_scope(_factory(args)) as s:
        set_active(s, args.name, args.active, actor=getpass.getuser())  # NotFound: one line, exit 2
    print(f"{'enabled' if args.active else 'disabled'} {args.name}")
    return 0


def _list_reviewers(args: argparse.Namespace) -> int:
    from feedback.reviewers import list_reviewers

    with _factory(args)() as s:
        reviewers = list_reviewers(s)
        if not reviewers:
            print("no reviewers yet (`voxguard review reviewers add NAME --role admin` creates the first)")
            return 0
        print(f"{'name':20} {'role':8} state")
        for r in reviewers:
            print(f"{r.username:20} {r.role:8} {'active' if r.active else 'inactive'}")
    return 0
