"""`voxguard export PACKAGE --format torchscript|onnx|int8 --out PATH`: export the scoring path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voxguard.errors import InputNotFound


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a model package to TorchScript, ONNX or int8 (and check it agrees)",
        description="Exports waveform windows [batch, samples] -> raw scores [batch]; "
        "calibration and the operating point stay in the package metadata.",
    )
    parser.add_argument("package", type=Path, help="model package (.vxpkg)")
    parser.add_argument("--format", dest="fmt", required=True, choices=("torchscript", "onnx", "int8"),
                        help="export format (int8: dynamically quantised TorchScript)")
    parser.add_argument("--out", type=Path, required=True, help="output file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from siamese.export import export_package  # torch import deferred: keeps `voxguard --help` fast

    if not args.package.is_file():
        raise InputNotFound(f"no model package at {args.package}")
    result = export_package(args.package, args.fmt, args.out)  # not a package: InvalidPackage, one line
    summary = {
        "format": result.format,
        "path": str(result.path),
        "max_abs_diff": result.max_abs_diff,
        "tolerance": result.tolerance,
        "n_windows": result.n_windows,
        "ok": result.within_tolerance,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        verdict = "ok" if result.within_tolerance else "EXCEEDS TOLERANCE"
        print(
            f"wrote {result.path} ({result.format}); max |score - float score| = "
            f"{result.max_abs_diff:.2e} on {result.n_windows} windows (tolerance {result.tolerance:g}): {verdict}"
        )
    return 0 if result.within_tolerance else 1
