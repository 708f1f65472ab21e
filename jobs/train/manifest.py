"""Load a training manifest into one DataFrame with the corpus builder's columns.

Two inputs are accepted:

* the corpus builder's Parquet (`var/corpus/manifest.parquet`), already split;
* a raw CSV like `../shared/corpus/manifest.csv` (path,label,source,speaker,...),
  mapped to the same columns here, with a speaker- and generator-disjoint split.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "clip_id", "path", "label", "generator", "family", "speaker", "source",
    "language", "split", "licence", "origin", "augmentation", "duration_s",
)
SPLITS: tuple[str, ...] = ("train", "dev", "test")


def load_manifest(path: str | Path, dev_fraction: float = 0.15, test_fraction: float = 0.2) -> pd.DataFrame:
    """Manifest rows with `COLUMNS` (+ `group`: speaker for bona fide, generator for spoof).

    Relative paths are resolved against the manifest's folder. A CSV without a
    `split` column gets a deterministic group-disjoint split (`dev_fraction`,
    `test_fraction` of clips, approximately).
    """
    path = Path(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path)
    if "split" not in frame.columns or "generator" not in frame.columns:
        frame = adapt_raw_manifest(frame, dev_fraction, test_fraction)
    missing = [c for c in ("path", "label", "split") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks columns {missing}")
    frame = frame.copy()
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["path"] = [str(p if Path(p).is_absolute() else (path.parent / p).resolve()) for p in frame["path"]]
    frame["clip_id"] = [c if isinstance(c, str) and c else p for c, p in zip(frame["clip_id"], frame["path"], strict=True)]
    frame["augmentation"] = frame["augmentation"].fillna("").astype(str)
    frame["speaker"] = frame["speaker"].fillna("").astype(str)
    bad_labels = set(frame["label"]) - {"bonafide", "spoof"}
    if bad_labels:
        raise ValueError(f"{path}: unknown labels {sorted(bad_labels)}")
    bad_splits = set(frame["split"]) - set(SPLITS)
    if bad_splits:
        raise ValueError(f"{path}: unknown splits {sorted(bad_splits)}")
    frame["group"] = [
        f"spk:{s or src}" if label == "bonafide" else f"gen:{g}"
        for label, s, src, g in zip(frame["label"], frame["speaker"], frame["source"], frame["generator"], strict=True)
    ]
    return frame.reset_index(drop=True)


def adapt_raw_manifest(raw: pd.DataFrame, dev_fraction: float, test_fraction: float) -> pd.DataFrame:
    """Map a `path,label,source,speaker,license,...` CSV to `COLUMNS` with a disjoint split.

    Spoof rows: generator = source, split by generator. Bona fide rows: split by
    speaker (the source when the speaker is unknown), so no speaker or generator
    appears in two splits.
    """
    frame = pd.DataFrame({"path": raw["path"].astype(str), "label": raw["label"].astype(str)})
    source = raw.get("source", pd.Series([""] * len(raw))).fillna("").astype(str)
    speaker = raw.get("speaker", pd.Series([""] * len(raw))).fillna("").astype(str)
    is_bona = frame["label"] == "bonafide"
    frame["clip_id"] = frame["path"]
    frame["generator"] = [("bonafide" if b else s) for b, s in zip(is_bona, source, strict=True)]
    frame["family"] = ["bonafide" if b else "dataset-spoof" for b in is_bona]
    frame["speaker"] = [sp if sp else f"{src}-unknown" for sp, src in zip(speaker, source, strict=True)]
    frame["source"] = source
    frame["language"] = ""
    frame["licence"] = raw.get("license", pd.Series([""] * len(raw))).fillna("").astype(str)
    frame["origin"] = frame["path"]
    frame["augmentation"] = ""
    frame["duration_s"] = raw.get("duration_s", pd.Series([0.0] * len(raw))).astype(float)
    keys = [f"spk:{sp}" if b else f"gen:{g}" for b, sp, g in zip(is_bona, frame["speaker"], frame["generator"], strict=True)]
    frame["split"] = _group_split(keys, list(frame["label"]), dev_fraction, test_fraction)
    return frame


def _group_split(keys: list[str], labels: list[str], dev_fraction: float, test_fraction: float) -> list[str]:
    """Whole groups to one split, filled per label in hash order until each split has its share."""
    out = [""] * len(keys)
    for label in sorted(set(labels)):
        members: dict[str, list[int]] = {}
        for i, (k, lab) in enumerate(zip(keys, labels, strict=True)):
            if lab == label:
                members.setdefault(k, []).append(i)
        total = sum(len(v) for v in members.values())
        quota = {"test": test_fraction * total, "dev": dev_fraction * total}
        filled = {"test": 0, "dev": 0}
        for key in sorted(members, key=lambda k: hashlib.sha1(k.encode()).hexdigest()):
            size = len(members[key])
            # A group bigger than 3/4 of a held-out share stays in train: one huge speaker must not be the whole dev split.
            target = next((s for s in ("test", "dev") if filled[s] < quota[s] and size <= max(quota[s], 3) * 0.75 + 1), "train")
            if target != "train":
                filled[target] += size
            for i in members[key]:
                out[i] = target
    return out
