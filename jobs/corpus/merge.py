"""Combine corpus manifests (a build, one or more imports) into the one manifest training reads.

Kept as a separate step rather than a list of manifests threaded through training, retraining
and their cards: every consumer keeps reading one Parquet file, and the combined file records
what went into it (`source_manifest` per row).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.corpus.build import MANIFEST_COLUMNS


def _read(path: Path) -> pd.DataFrame:
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no corpus manifest at {path}")
    frame = pd.read_parquet(path)
    missing = {"clip_id", "path", "label", "split"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: not a corpus manifest (lacks {sorted(missing)})")
    frame["path"] = [str(p if Path(p).is_absolute() else (path.parent / p).resolve()) for p in frame["path"]]
    frame["source_manifest"] = str(path.resolve())
    return frame


def merge_manifests(paths: list[Path], out: Path) -> pd.DataFrame:
    """Rows of all `paths` (union of columns, blanks where a manifest lacks one) written to `out`.

    The same clip id in two manifests is refused: it would be trained on twice, or end up on
    both sides of a split.
    """
    frames = [_read(p) for p in paths]
    merged = pd.concat(frames, ignore_index=True, sort=False)
    for column in (*MANIFEST_COLUMNS, "group", "corpus"):
        if column not in merged.columns:
            merged[column] = ""
    text_columns = [c for c in merged.columns if c != "duration_s"]
    merged[text_columns] = merged[text_columns].fillna("")
    duplicated = merged["clip_id"][merged["clip_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{len(duplicated)} clip ids appear in more than one manifest (e.g. {duplicated.iloc[0]})")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    merged.to_parquet(out, index=False)
    return merged
