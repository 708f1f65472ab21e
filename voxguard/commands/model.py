"""`voxguard model card`: inspect a model package (exporting is `voxguard export`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `model` command and its actions."""
    parser = subparsers.add_parser("model", help="show a package's metrics card (export: `voxguard export`)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    card = actions.add_parser("card", help="print the metrics card (Markdown, or --json)")
    card.add_argument("package", type=Path, help="model package (.vxpkg)")
    card.add_argument("--json", action="store_true", help="raw metrics and training record")
    card.set_defaults(func=_card)


def _card(args: argparse.Namespace) -> int:
    from jobs.train.report import card_markdown
    from siamese.package import ModelPackage

    pkg = ModelPackage.load(args.package)
    if args.json:
        print(json.dumps({"version": pkg.version, "metrics": pkg.metrics, "training": pkg.training}, indent=2, default=str))
    else:
        print(card_markdown(pkg), end="")
    return 0

