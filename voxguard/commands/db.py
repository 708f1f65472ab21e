"""`voxguard db upgrade`: create or migrate the feedback database."""

from __future__ import annotations

import argparse

from voxguard.commands._options import add_db_url_to_command, leaf_parsers


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `db` command."""
    parser = subparsers.add_parser("db", help="feedback database administration")
    sub = parser.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="create or migrate the database to the latest schema")
    up.add_argument("--revision", default="head", help="Alembic revision to migrate to")
    up.set_defaults(func=_upgrade)
    add_db_url_to_command(parser, leaf_parsers(parser))


def _upgrade(args: argparse.Namespace) -> int:
    from feedback.db import current_revision, upgrade
    from voxguard.settings import Settings

    url = Settings.from_env(db_url=args.db_url).database_url
    upgrade(url, args.revision)
    print(f"database at revision {current_revision(url)}")
    return 0
