"""`voxguard models list | promote VERSION | rollback`: the model registry."""

from __future__ import annotations

import argparse
import getpass

from voxguard.commands._options import add_db_url_to_command, db_url, leaf_parsers


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command."""
    parser = subparsers.add_parser("models", help="model registry: list, promote, roll back")
    sub = parser.add_subparsers(dest="models_command", required=True)
    sub.add_parser("list", help="all model versions, newest first").set_defaults(func=_list)
    pr = sub.add_parser("promote", help="make VERSION the production model (atomic)")
    pr.add_argument("version", help="a version listed by `voxguard models list`")
    pr.set_defaults(func=_promote)
    sub.add_parser("rollback", help="return to the previous production model").set_defaults(func=_rollback)
    add_db_url_to_command(parser, leaf_parsers(parser))


def _list(args: argparse.Namespace) -> int:
    from feedback.db import session_factory
    from feedback.registry import list_versions

    with session_factory(db_url(args))() as s:
        versions = list_versions(s)
        if not versions:
            print("no models registered yet: scoring uses the bundled model until a retraining or "
                  "`voxguard models promote` registers one")
            return 0
        print(f"{'version':24} {'status':10} {'threshold':10} {'created (UTC)':17} artefact")
        for m in versions:
            thr = "-" if m.threshold is None else f"{m.threshold:.3f}"
            print(f"{m.version:24} {m.status:10} {thr:10} {m.created_at:%Y-%m-%d %H:%M}  {m.artefact_uri}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from feedback.db import session_factory, session_scope
    from feedback.registry import promote

    with session_scope(session_factory(db_url(args))) as s:
        promote(s, args.version, actor=getpass.getuser())
    print(f"{args.version} is now production")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from feedback.db import session_factory, session_scope
    from feedback.registry import rollback

    with session_scope(session_factory(db_url(args))) as s:
        restored = rollback(s, actor=getpass.getuser())
        name = restored.version
    print(f"rolled back: {name} is production again")
    return 0
