"""`voxguard model card|export`: inspect and export model packages."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `model` command and its actions."""
    parser = subparsers.add_parser("model", help="show a package's metrics card or export it")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    card = actions.add_parser("card", help="print the metrics card (Markdown, or --json)")
    card.add_argument("package", type=Path)
    card.add_argument("--json", action="store_true", help="raw metrics and training record")
    card.set_defaults(func=_card)
    export = actions.add_parser("export", help="export the scoring path (TorchScript or ONNX)")
    export.add_argument("package", type=Path)
    export.add_argument("--format", choices=["torchscript", "onnx"], default="torchscript")
    export.add_argument("--int8", action="store_true", help="dynamic int8 quantisation (TorchScript file)")
    export.add_argument("--out", type=Path, default=None, help="output file (default: next to the package)")
    export.set_defaults(func=_export)


def _card(args: argparse.Namespace) -> int:
    from jobs.train.report import card_markdown
    from siamese.package import ModelPackage

    pkg = ModelPackage.load(args.package)
    if args.json:
        print(json.dumps({"version": pkg.version, "metrics": pkg.metrics, "training": pkg.training}, indent=2, default=str))
    else:
        print(card_markdown(pkg), end="")
    return 0


def _export(args: argparse.Namespace) -> int:
    from siamese.export import export_package

    fmt = "int8" if args.int8 else args.format
    suffix = {"torchscript": ".pt", "onnx": ".onnx", "int8": ".int8.pt"}[fmt]
    out = args.out or args.package.with_suffix(suffix)
    result = export_package(args.package, fmt, out)
    print(json.dumps({"format": result.format, "path": str(result.path), "max_abs_diff": result.max_abs_diff,
                      "tolerance": result.tolerance, "within_tolerance": result.within_tolerance}))
    return 0 if result.within_tolerance else 1
