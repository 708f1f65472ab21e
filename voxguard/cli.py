"""The `voxguard` command line: a thin dispatcher over one module per subcommand.

Each module in `voxguard.commands` exposes `register(subparsers)`, which adds its
parser(s) and sets `func` (called with the parsed namespace, returning an exit code).
Modules are discovered, so adding a subcommand never edits this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from voxguard import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="voxguard",
        description="Audio deepfake detection at archive scale.",
    )
    parser.add_argument("--version", action="version", version=f"voxguard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"voxguard.commands.{module_info.name}")
        module.register(subparsers)
    _show_defaults(parser)
    return parser


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to a flag's help when X says something (not None/False) and
    the help does not already name its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            # Identity, not equality: a default of 0 (`--seed`) is worth showing, False is not.
            and not any(default is nothing for nothing in (None, False, argparse.SUPPRESS))
            and default not in ([], ())
            and not isinstance(action, argparse._StoreConstAction)  # includes store_true/false
        ):
            text += " (default: %(default)s)"
        return text


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give every (sub-)parser the formatter: argparse does not pass it down to sub-parsers."""
    parser.formatter_class = _DefaultsFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _show_defaults(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script.

    A user-fixable failure (`VoxguardError`, or a dependency's exception that
    `explain` recognises) prints one line on stderr and returns 2; anything else
    is a bug and propagates as a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except Exception as error:  # noqa: BLE001 - re-raised below unless it is a known user mistake
        from voxguard.explain import explain

        known = explain(error)
        if known is None:
            raise
        print(f"voxguard: error: {_one_line(known)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    """The error's message on a single line (driver messages often span several)."""
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
