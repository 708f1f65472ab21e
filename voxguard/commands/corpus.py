"""`voxguard corpus build|audit`: build the training corpus, or re-run its shortcut audit."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.corpus import CorpusConfig
    from voxguard.settings import Settings


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

    imp = sub.add_parser("import", help="add labelled clips (CSV: path,label[,system,family,speaker,group,...]) "
                                        "with the corpus's own processing and a group-disjoint split")
    imp.add_argument("manifest", type=Path, help="labelled manifest CSV (path and label columns at least)")
    imp.add_argument("--out", required=True, type=Path, help="output folder (manifest.parquet, import_report.csv)")
    imp.add_argument("--audio-root", type=Path, default=None,
                     help="folder the manifest's relative paths point into (default: the manifest's folder)")
    imp.add_argument("--mirror-root", type=Path, default=None,
                     help="bare git mirrors (OWNER+NAME/repo) to read rows with repo/commit/repo_path from")
    imp.add_argument("--devset", action="append", type=Path, default=[],
                     help="evaluation set (folder or manifest CSV) whose audio is refused (repeatable)")
    imp.add_argument("--exclude-system", action="append", default=[],
                     help="drop systems whose name starts with this prefix (repeatable)")
    imp.add_argument("--variants", type=int, default=2, help="augmented variants per clip (default 2)")
    imp.add_argument("--test-fraction", type=float, default=0.15, help="share of clips (whole groups) in test")
    imp.add_argument("--dev-fraction", type=float, default=0.1, help="share of clips (whole groups) in dev")
    imp.add_argument("--seed", type=int, default=1234, help="seed of the split and the augmentation draws")
    imp.add_argument("--workers", type=int, default=None, help="Ray CPUs for a local cluster (default: all)")
    imp.set_defaults(func=_import)

    merge = sub.add_parser("merge", help="combine corpus manifests (a build and imports) into the one training reads")
    merge.add_argument("manifests", nargs="+", type=Path, help="manifest.parquet files or their folders")
    merge.add_argument("--out", required=True, type=Path, help="combined manifest to write (.parquet)")
    merge.set_defaults(func=_merge)

    audit = sub.add_parser("audit", help="shortcut audit of a corpus manifest (prints JSON)")
    audit.add_argument("manifest", type=Path, help="manifest.parquet (or its folder)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the audit's classifiers")
    audit.set_defaults(func=_audit)


def build_config(args: argparse.Namespace, settings: Settings) -> CorpusConfig:
    """The corpus build's configuration: the flags, and the Ray address from the command's settings."""
    from jobs.corpus import CorpusConfig
    from jobs.corpus.config import ALL_FAMILIES

    families = tuple(f.strip() for f in args.families.split(",")) if args.families else ALL_FAMILIES
    return CorpusConfig(
        bonafide=tuple(args.bonafide), spoof=tuple(args.spoof), out=args.out, families=families,
        variants_per_clip=args.variants, seed=args.seed, limit=args.limit,
        tts_per_generator=args.tts_per_generator, hifigan_max=args.hifigan_max,
        workers=args.workers, ray_address=settings.ray_address, run_audit=not args.no_audit,
    )


def _build(args: argparse.Namespace) -> int:
    from jobs.corpus import build_corpus
    from voxguard.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = build_corpus(build_config(args, Settings.from_env()))
    info = json.loads((out / "build_info.json").read_text())
    print(json.dumps({k: info[k] for k in ("clips", "jobs_run", "jobs_cached", "jobs_failed", "timings_s")}, indent=2))
    print(json.dumps(info["counts"]["split_label"], indent=2))
    print(f"manifest: {out / 'manifest.parquet'}")
    return 0 if info["clips"] else 1


def _import(args: argparse.Namespace) -> int:
    from jobs.corpus.importer import ImportConfig, import_labelled
    from voxguard.errors import InputNotFound
    from voxguard.settings import Settings

    if not args.manifest.is_file():
        raise InputNotFound(f"no such manifest: {args.manifest}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    info = import_labelled(ImportConfig(
        manifest=args.manifest, out=args.out, audio_root=args.audio_root, mirror_root=args.mirror_root,
        devsets=tuple(args.devset), exclude_systems=tuple(args.exclude_system), variants_per_clip=args.variants,
        seed=args.seed, test_fraction=args.test_fraction, dev_fraction=args.dev_fraction,
        workers=args.workers, ray_address=Settings.from_env().ray_address,
    ))
    print(f"imported {info['imported']} of {info['rows']} rows -> {info['clips_written']} clips "
          f"({info['rejected']} rejected{': ' if info['rejected'] else ''}"
          + ", ".join(f"{n} {reason}" for reason, n in sorted(info["rejected_by_reason"].items())) + ")")
    for key in ("clean_clips_by_split_label", "clean_clips_by_family", "groups_by_split"):
        print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in sorted(info[key].items())))
    print(f"manifest: {args.out / 'manifest.parquet'}  report: {args.out / 'import_report.csv'}")
    return 0 if info["imported"] else 1


def _merge(args: argparse.Namespace) -> int:
    from jobs.corpus.merge import merge_manifests

    merged = merge_manifests(list(args.manifests), args.out)
    counts = merged.groupby(["split", "label"]).size()
    print(f"{len(merged)} clips from {len(args.manifests)} manifests -> {args.out}")
    print(", ".join(f"{split}/{label}={n}" for (split, label), n in counts.items()))
    return 0


def _audit(args: argparse.Namespace) -> int:
    import pandas as pd

    from jobs.corpus.audit import audit_manifest

    path = args.manifest / "manifest.parquet" if args.manifest.is_dir() else args.manifest
    print(json.dumps(audit_manifest(pd.read_parquet(path), args.seed), indent=2))
    return 0
