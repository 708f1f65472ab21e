"""Options shared by several commands, declared once so they are spelt and read the same way.

`--db-url` is accepted before and after a command's action (`voxguard models
--db-url URL list` and `voxguard models list --db-url URL`); the historical
`--url` spelling still works but is hidden from the help.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

DB_URL_HELP = "feedback database, an SQLAlchemy URL (default: VOXGUARD_DB_URL, else SQLite under the data dir)"


def add_db_url(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """Add `--db-url` (and the hidden alias `--url`) to `parser`, stored as `args.db_url`.

    `inherited=True` is for an action's parser under a command that has the option
    too: its default is SUPPRESS, because argparse copies a sub-parser's defaults
    over the values the command's parser already parsed.
    """
    default = argparse.SUPPRESS if inherited else None
    parser.add_argument("--db-url", dest="db_url", default=default, metavar="URL", help=DB_URL_HELP)
    parser.add_argument("--url", dest="db_url", default=default, help=argparse.SUPPRESS)


def add_db_url_to_command(command: argparse.ArgumentParser, actions: Iterable[argparse.ArgumentParser]) -> None:
    """`--db-url` on a command and on each of its actions' parsers."""
    add_db_url(command)
    for action in actions:
        add_db_url(action, inherited=True)


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser under `parser` that has no sub-commands of its own (the actions)."""
    leaves = []
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                leaves.extend(leaf_parsers(sub) or [sub])
    return leaves


def db_url(args: argparse.Namespace) -> str:
    """The effective database URL: `--db-url`, else the settings' (VOXGUARD_DB_URL, else SQLite in the data dir)."""
    from voxguard.settings import Settings

    return Settings.from_env(db_url=getattr(args, "db_url", None)).database_url


def jobs_address(args: argparse.Namespace) -> str:
    """The Jobs API URL to use: `--address`, else Ray's variables or the head `voxguard cluster up`
    recorded under the settings' data dir (`cluster.submit.resolve_dashboard_address`)."""
    from cluster.submit import resolve_dashboard_address
    from voxguard.settings import Settings

    return resolve_dashboard_address(getattr(args, "address", None), Settings.from_env().data_dir)
