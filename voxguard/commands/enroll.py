"""`voxguard enroll`: add verified bona fide clips to a group's reference bank (instant adaptation)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "enroll",
        help="enroll reviewer-verified bona fide clips as known-real references of a group",
        description="Embed verified bona fide clips with the production model and store them for GROUP; "
        "`voxguard score --group GROUP` then compares clips against them as well.",
    )
    parser.add_argument("--group", required=True, help="e.g. a phone line, studio or speaker id")
    parser.add_argument("uris", nargs="*", help="clip URIs (default: every verified bona fide clip)")
    parser.add_argument("--model", help="model package (default: the registry's production model, else VOXGUARD_MODEL, else the bundled model)")
    parser.add_argument("--actor", default="cli", help="who enrolls (for the audit trail)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jobs.enroll import enroll_clips
    from voxguard.context import CommandContext
    from voxguard.settings import Settings

    with CommandContext(Settings.from_env()) as ctx:
        ctx.migrate()
        package = ctx.package(args.model)  # the one default-model rule, as `score`
        count = enroll_clips(ctx.sessions, package, args.group, args.uris or None, args.actor, s3=ctx.storage)
    print(f"enrolled {count} clip(s) into group {args.group!r}")
    return 0
