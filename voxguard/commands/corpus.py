"""`voxguard corpus build|audit`: build the training corpus, or re-run its shortcut audit."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `corpus build` and `corpus audit`."""
    parser = subparsers.add_parser("corpus", help="build the training corpus / audit it for shortcuts")
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    build = sub.add_parser("build", help="process inputs, generate spoofs, split, audit (incremental, Ray)")
    build.add_argument("--bonafide", action="append", required=True, type=Path,
                       help="bona fide folder or manifest CSV (repeatable); a manifest's spoof rows are used too")
    build.add_argument("--spoof", action="append", default=[], type=Path, help="ready-made spoof folder or manifest")
    build.add_argument("--out", required=True, type=Path, help="output directory")
    build.add_argument("--limit", type=int, default=None, help="at most N input clips per label")
    build.add_argument("--families", default=None,
                       help="comma list of bonafide,dataset-spoof,tts-classic,tts-neural,vocoder-copy")
    build.add_argument("--variants", type=int, default=2, help="augmented variants per clip (default 2)")
    build.add_argument("--tts-per-generator", type=int, default=60, help="utterances per TTS generator")
    build.add_argument("--hifigan-max", type=int, default=80, help="cap on HiFi-GAN copy-synthesis jobs (slow on CPU)")
    build.add_argument("--seed", type=int, default=1234, help="seed of every random choice (same seed, same corpus)")
    build.add_argument("--workers", type=int, default=None, help="Ray CPUs for a local cluster")
    build.add_argument("--no-audit", action="store_true", help="skip the shortcut audit at the end")
    build.set_defaults(func=_build)

    audit = sub.add_parser("audit", help="shortcut audit of a corpus manifest (prints JSON)")
    audit.add_argument("manifest", type=Path, help="manifest.parquet (or its folder)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the audit's classifiers")
    audit.set_defaults(func=_audit)


def _build(args: argparse.Namespace) -> int:
    from jobs.corpus import CorpusConfig, build_corpus
    from jobs.corpus.config import ALL_FAMILIES
    from voxguard.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    families = tuple(f.strip() for f in args.families.split(",")) if args.families else ALL_FAMILIES
    config = CorpusConfig(
        bonafide=tuple(args.bonafide), spoof=tuple(args.spoof), out=args.out, families=families,
        variants_per_clip=args.variants, seed=args.seed, limit=args.limit,
        tts_per_generator=args.tts_per_generator, hifigan_max=args.hifigan_max,
        workers=args.workers, ray_address=Settings.from_env().ray_address, run_audit=not args.no_audit,
    )
    out = build_corpus(config)
    info = json.loads((out / "build_info.json").read_text())
    print(json.dumps({k: info[k] for k in ("clips", "jobs_run", "jobs_cached", "jobs_failed", "timings_s")}, indent=2))
    print(json.dumps(info["counts"]["split_label"], indent=2))
    print(f"manifest: {out / 'manifest.parquet'}")
    return 0 if info["clips"] else 1


def _audit(args: argparse.Namespace) -> int:
    import pandas as pd

    from jobs.corpus.audit import audit_manifest

    path = args.manifest / "manifest.parquet" if args.manifest.is_dir() else args.manifest
    print(json.dumps(audit_manifest(pd.read_parquet(path), args.seed), indent=2))
    return 0
