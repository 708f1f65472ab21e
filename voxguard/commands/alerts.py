"""`voxguard alerts add | list | test | remove | log`: webhooks for job, spoof, backlog and retraining events."""

from __future__ import annotations

import argparse
import getpass
import os

from voxguard.commands._options import add_db_url_to_command, db_url, leaf_parsers

# feedback.models.ALERT_EVENTS, written out so `voxguard --help` stays light (a test checks they agree).
EVENTS = ("score.finished", "spoof.found", "queue.backlog", "retrain.finished", "retrain.failed")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `alerts` command."""
    parser = subparsers.add_parser(
        "alerts", help="webhooks: scoring finished, spoofs found, queue backlog, retraining outcome",
        description="POST a Slack-compatible JSON body, signed with HMAC-SHA256 "
        "(X-Voxguard-Signature-256: sha256=...), to each URL for the events it subscribes to; "
        "details in docs/alerts.md.")
    sub = parser.add_subparsers(dest="alerts_command", required=True)
    add = sub.add_parser("add", help="add a webhook URL")
    add.add_argument("url", help="http(s) URL that receives the POSTs (a Slack incoming webhook works)")
    add.add_argument("--event", dest="events", action="append", choices=EVENTS,
                     help="an event to send (repeatable; default: all)")
    add.add_argument("--secret", help="signing secret (default: VOXGUARD_ALERT_SECRET, else one is generated "
                     "and printed once)")
    add.add_argument("--spoof-confidence", type=float,
                     help="spoof.found: clips labelled spoof with P(spoof) at least this (default 0.9)")
    add.add_argument("--backlog-clips", type=int, help="queue.backlog: more open review items than this (default 500)")
    add.add_argument("--backlog-hours", type=float,
                     help="queue.backlog: oldest open item older than this; also the minimum hours between two "
                     "backlog alerts (default 24)")
    add.set_defaults(func=_add)
    sub.add_parser("list", help="configured webhooks").set_defaults(func=_list)
    test = sub.add_parser("test", help="send a test alert to a webhook and show the delivery")
    test.add_argument("hook_id", type=int, help="as shown by `voxguard alerts list`")
    test.set_defaults(func=_test)
    rm = sub.add_parser("remove", help="remove a webhook (its delivery log stays)")
    rm.add_argument("hook_id", type=int, help="as shown by `voxguard alerts list`")
    rm.set_defaults(func=_remove)
    log = sub.add_parser("log", help="recent deliveries, newest first")
    log.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    log.set_defaults(func=_log)
    add_db_url_to_command(parser, leaf_parsers(parser))


def _factory(args: argparse.Namespace):
    from feedback.db import session_factory, upgrade

    url = db_url(args)
    upgrade(url)  # the alert tables arrive with a migration: an older database is brought up to date
    return session_factory(url)


def _add(args: argparse.Namespace) -> int:
    from feedback.alerts import add_hook
    from feedback.db import session_scope

    secret = args.secret or os.environ.get("VOXGUARD_ALERT_SECRET")
    options = {"spoof_confidence": args.spoof_confidence, "backlog_clips": args.backlog_clips,
               "backlog_hours": args.backlog_hours}
    with session_scope(_factory(args)) as s:
        hook = add_hook(s, args.url, args.events, secret, options, actor=getpass.getuser())
        hook_id, events, generated = hook.id, hook.events, None if secret else hook.secret
    print(f"added alert hook {hook_id}: {args.url} ({', '.join(events)})")
    if generated:
        print(f"signing secret (shown once; the receiver checks X-Voxguard-Signature-256 with it): {generated}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from feedback.alerts import list_hooks

    with _factory(args)() as s:
        hooks = list_hooks(s)
        if not hooks:
            print("no alert hooks configured (`voxguard alerts add URL` adds one)")
            return 0
        print(f"{'id':>4}  {'events':60} {'thresholds':34} url")
        for h in hooks:
            o = h.options
            limits = (f"spoof>={o.get('spoof_confidence'):g} backlog>{o.get('backlog_clips')}/"
                      f"{o.get('backlog_hours'):g}h")
            print(f"{h.id:>4}  {','.join(h.events):60} {limits:34} {h.url}")
    return 0


def _test(args: argparse.Namespace) -> int:
    from feedback.alerts import send

    row = send(_factory(args), args.hook_id, "test", "test alert from `voxguard alerts test`",
               {"hook_id": args.hook_id})
    detail = f"HTTP {row.http_status}" if row.http_status is not None else (row.error or "")
    print(f"{row.status} after {row.attempts} attempt(s) ({detail})"
          + ("" if row.status == "delivered" or row.http_status is None else f": {row.error}"))
    return 0 if row.status == "delivered" else 1


def _remove(args: argparse.Namespace) -> int:
    from feedback.alerts import remove_hook
    from feedback.db import session_scope

    with session_scope(_factory(args)) as s:
        remove_hook(s, args.hook_id, actor=getpass.getuser())
    print(f"removed alert hook {args.hook_id}")
    return 0


def _log(args: argparse.Namespace) -> int:
    from feedback.alerts import deliveries

    with _factory(args)() as s:
        rows = deliveries(s, args.limit)
        if not rows:
            print("no alerts sent yet")
            return 0
        print(f"{'id':>5}  {'sent (UTC)':16}  {'hook':>4}  {'event':16} {'status':9} {'tries':>5}  detail")
        for r in rows:
            detail = r.error or (f"HTTP {r.http_status}" if r.http_status else "")
            hook = "-" if r.hook_id is None else str(r.hook_id)
            print(f"{r.id:>5}  {r.created_at:%Y-%m-%d %H:%M}  {hook:>4}  {r.event:16} {r.status:9} {r.attempts:>5}  "
                  f"{detail}")
    return 0
