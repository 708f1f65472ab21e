"""Import labelled clips into a corpus: validate, deduplicate, refuse devset overlap, process, split.

`voxguard corpus import MANIFEST.csv --audio-root DIR --out var/corpus/imports/NAME` takes any
labelled archive (see `jobs.corpus.labelled` for the columns) and gives it the same treatment
as the rest of the corpus: each clip runs through the corpus builder's own worker (16 kHz,
silence trim, crop, level, dither, the same augmentation distribution for both classes),
so imported and built clips cannot be told apart by processing. The output folder holds

* `manifest.parquet` — the corpus builder's columns plus `group` and `corpus`, one row per
  produced clip (clean copy + augmented variants), with a group-disjoint train/dev/test split;
* `import_report.csv` — one row per manifest row: `imported` or the reason it was not;
* `import_info.json` — counts per reason, label, family and split, and timings.

Clips kept in git mirrors (the harvested demo pages) can be read straight from the mirrors
with `--mirror-root`: `git show COMMIT:REPO_PATH` from `MIRROR_ROOT/OWNER+NAME/repo`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.corpus.config import PROCESS_VERSION
from jobs.corpus.inputs import AUDIO_SUFFIXES
from jobs.corpus.labelled import LabelledRow, Rejection, read_labelled_manifest
from jobs.corpus.splits import stable_unit
from jobs.corpus.worker import Job, failure_record_path

log = logging.getLogger(__name__)

IMPORT_COLUMNS = (
    "clip_id", "path", "label", "generator", "family", "speaker", "source", "language", "split",
    "licence", "origin", "augmentation", "duration_s", "group", "corpus",
)
GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class ImportConfig:
    """One import run."""

    manifest: Path
    out: Path
    # Where the manifest's relative paths point (default: the manifest's folder).
    audio_root: Path | None = None
    # Bare git mirrors (OWNER+NAME/repo) to read rows with repo/commit/repo_path from.
    mirror_root: Path | None = None
    # Folders (with a manifest.csv) or CSVs whose audio must never be imported: the evaluation sets.
    devsets: tuple[Path, ...] = ()
    variants_per_clip: int = 2
    seed: int = 1234
    test_fraction: float = 0.15
    dev_fraction: float = 0.1
    crop_min_s: float = 2.0
    crop_max_s: float = 8.0
    # Drop systems whose name starts with one of these (e.g. bona fide prompts of doubtful origin).
    exclude_systems: tuple[str, ...] = ()
    workers: int | None = None
    ray_address: str = ""
    chunk_size: int = 64


def file_digest(data: bytes) -> str:
    """Content hash used for duplicates and devset overlap."""
    return hashlib.sha256(data).hexdigest()


def devset_digests(devsets: tuple[Path, ...]) -> dict[str, str]:
    """sha256 -> devset file of every audio file in the evaluation sets (folders or manifests)."""
    out: dict[str, str] = {}
    for root in devsets:
        root = Path(root)
        files: list[Path] = []
        if root.is_file() and root.suffix.lower() == ".csv":
            with root.open(newline="", encoding="utf-8") as handle:
                files = [(root.parent / r["path"]) for r in csv.DictReader(handle) if r.get("path")]
        elif root.is_dir():
            files = [p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]
        for f in files:
            if f.is_file():
                out[file_digest(f.read_bytes())] = str(f)
    return out


def _read_from_mirror(row: LabelledRow, mirror_root: Path) -> bytes:
    git_dir = mirror_root / row.repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        raise FileNotFoundError(f"no mirror of {row.repo} under {mirror_root}")
    done = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{row.commit}:{row.repo_path}"],
                          capture_output=True, timeout=GIT_TIMEOUT_S)
    if done.returncode != 0 or not done.stdout:
        raise FileNotFoundError(done.stderr.decode(errors="replace").strip()[:200] or "empty object")
    if done.stdout.startswith(b"version https://git-lfs"):
        raise FileNotFoundError("the object is a git-lfs pointer, not audio")
    return done.stdout


def locate(row: LabelledRow, config: ImportConfig, raw_dir: Path) -> Path:
    """The file holding the row's audio: under the audio root, or extracted from its git mirror.

    Only regular files are read (never FIFOs or devices, which could block the import).
    """
    root = config.audio_root or config.manifest.parent
    given = Path(row.path)
    candidate = given if given.is_absolute() else root / given
    if candidate.is_file():
        return candidate
    if candidate.exists():
        raise FileNotFoundError(f"{candidate} is not a regular file")
    if config.mirror_root and row.repo and row.commit and row.repo_path:
        target = raw_dir / given
        if not target.is_file():
            data = _read_from_mirror(row, config.mirror_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        return target
    raise FileNotFoundError(f"{candidate} does not exist")


def _job_for(row: LabelledRow, audio: Path, digest: str, config: ImportConfig) -> Job:
    """A corpus-builder job of kind "input": the same worker, processing and augmentation."""
    payload = {"v": PROCESS_VERSION, "import": digest, "variants": config.variants_per_clip, "seed": config.seed,
               "crop": [config.crop_min_s, config.crop_max_s]}
    job_id = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return Job(
        job_id=job_id, kind="input", label=row.label, generator=row.system if row.label == "spoof" else "bonafide",
        family=row.family, speaker=row.speaker, source=row.repo or row.corpus or row.system,
        language=row.language, licence=row.licence, origin=row.origin, variants=config.variants_per_clip,
        seed=config.seed, crop_min_s=config.crop_min_s, crop_max_s=config.crop_max_s,
        input_path=str(audio), crop_key=digest,
    )


def assign_group_splits(groups: list[str], seed: int, test_fraction: float, dev_fraction: float) -> dict[str, str]:
    """Whole groups to test / dev / train in hashed order until each share of clips is filled.

    A group (a demo page, a matched pair, a speaker) never straddles two splits, so a
    spoof and the real recording of the same sentence are always on the same side.
    """
    sizes = Counter(groups)
    total = sum(sizes.values()) or 1
    quota = {"test": test_fraction * total, "dev": dev_fraction * total}
    filled = {"test": 0, "dev": 0}
    out: dict[str, str] = {}
    for group in sorted(sizes, key=lambda g: stable_unit(seed, "import-group", g)):
        size = sizes[group]
        split = next((s for s in ("test", "dev") if filled[s] + size <= quota[s] * 1.25 and filled[s] < quota[s]),
                     "train")
        if split != "train":
            filled[split] += size
        out[group] = split
    return out


def _accept(rows: list[LabelledRow], config: ImportConfig, raw_dir: Path) -> tuple[
        list[tuple[LabelledRow, Path, str]], list[Rejection]]:
    """Rows whose file exists, is new (by content) and is not in an evaluation set."""
    refused = devset_digests(config.devsets)
    seen: dict[str, LabelledRow] = {}
    accepted: list[tuple[LabelledRow, Path, str]] = []
    rejected: list[Rejection] = []
    for row in rows:
        if any(row.system.startswith(prefix) for prefix in config.exclude_systems):
            rejected.append(Rejection(row.line, row.path, "excluded_system", f"system {row.system} excluded"))
            continue
        try:
            audio = locate(row, config, raw_dir)
            data = audio.read_bytes()
        except (OSError, subprocess.TimeoutExpired) as error:
            rejected.append(Rejection(row.line, row.path, "missing_file", str(error)))
            continue
        digest = file_digest(data)
        if digest in refused:
            rejected.append(Rejection(row.line, row.path, "devset_overlap",
                                      f"same audio as evaluation file {refused[digest]}: never trained on"))
            continue
        if digest in seen:
            first = seen[digest]
            reason = "duplicate" if first.label == row.label else "duplicate_conflicting_label"
            rejected.append(Rejection(row.line, row.path, reason, f"same audio as line {first.line} ({first.path})"))
            continue
        seen[digest] = row
        accepted.append((row, audio, digest))
    return accepted, rejected


def import_labelled(config: ImportConfig) -> dict[str, Any]:
    """Run an import; returns the summary also written to `import_info.json`."""
    from jobs.corpus.build import _run_with_ray  # the builder's bounded Ray fan-out
    from jobs.corpus.config import CorpusConfig

    started = time.perf_counter()
    out = Path(config.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = replace(config, out=out, manifest=Path(config.manifest).resolve())
    rows, rejected = read_labelled_manifest(config.manifest)
    accepted, refused = _accept(rows, config, out / "raw")
    rejected += refused
    built = [(row, _job_for(row, audio, digest, config)) for row, audio, digest in accepted]
    jobs = {job.job_id: (row, job) for row, job in built}
    runner = CorpusConfig(bonafide=(), out=out, workers=config.workers, ray_address=config.ray_address,
                          chunk_size=config.chunk_size, run_audit=False)
    validated = time.perf_counter()
    results, _ = _run_with_ray([job for _, job in jobs.values()], runner) if jobs else ([], [])
    finished = {r["job_id"] for r in results}
    for job_id, (row, _) in jobs.items():
        if job_id not in finished:  # the builder's safe runner kept the failure next to the job's record
            record = failure_record_path(out, job_id)
            message = json.loads(record.read_text())["error"] if record.is_file() else "the job produced no clips"
            rejected.append(Rejection(row.line, row.path, _decode_reason(message), message))
    split_of = assign_group_splits([row.group for row, _ in jobs.values()], config.seed,
                                   config.test_fraction, config.dev_fraction)
    records = []
    for result in results:
        row, _ = jobs[result["job_id"]]
        for produced in result["rows"]:
            records.append({**produced, "split": split_of[row.group], "group": row.group, "corpus": row.corpus,
                            "family": row.family})
    manifest = pd.DataFrame(records, columns=list(IMPORT_COLUMNS))
    manifest = manifest.sort_values("clip_id").reset_index(drop=True)
    manifest.to_parquet(out / "manifest.parquet", index=False)
    imported_lines = {jobs[r["job_id"]][0].line for r in results}
    _write_report(out / "import_report.csv", rows, rejected, imported_lines)
    info = _summary(config, rows, rejected, manifest, imported_lines, validated - started,
                    time.perf_counter() - validated)
    (out / "import_info.json").write_text(json.dumps(info, indent=2))
    return info


def _decode_reason(message: str) -> str:
    lowered = message.lower()
    if "notaudio" in lowered or "not audio" in lowered:
        return "not_audio"
    if "silent" in lowered or "no usable audio" in lowered:
        return "silent"
    if "tooshort" in lowered or "too short" in lowered:
        return "too_short"
    return "undecodable"


def _write_report(path: Path, rows: list[LabelledRow], rejected: list[Rejection], imported: set[int]) -> None:
    by_line = {r.line: r for r in rows}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "path", "status", "reason", "detail"])
        for line in sorted(imported):
            writer.writerow([line, by_line[line].path, "imported", "", ""])
        for r in sorted(rejected, key=lambda r: r.line):
            writer.writerow([r.line, r.path, "rejected", r.reason, r.detail])


def _summary(config: ImportConfig, rows: list[LabelledRow], rejected: list[Rejection], manifest: pd.DataFrame,
             imported: set[int], validate_s: float, process_s: float) -> dict[str, Any]:
    clean = manifest[manifest["augmentation"] == ""] if len(manifest) else manifest
    return {
        "manifest": str(config.manifest),
        "rows": len(rows) + sum(1 for r in rejected if r.reason in ("blank_row", "missing_path", "unknown_label")),
        "imported": len(imported),
        "rejected": len(rejected),
        "rejected_by_reason": dict(Counter(r.reason for r in rejected)),
        "clips_written": len(manifest),
        "clean_clips_by_split_label": {f"{s}/{l}": int(n) for (s, l), n in
                                       clean.groupby(["split", "label"]).size().items()} if len(clean) else {},
        "clean_clips_by_family": {str(k): int(v) for k, v in clean["family"].value_counts().items()} if len(clean) else {},
        "groups_by_split": {str(k): int(v) for k, v in clean.groupby("split")["group"].nunique().items()} if len(clean) else {},
        "timings_s": {"validate": round(validate_s, 1), "process": round(process_s, 1)},
        "out": str(config.out),
    }
