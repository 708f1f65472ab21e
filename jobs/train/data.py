"""Decode every clip once (as Ray tasks), cache it as int16 .npy, and build `ClipSet`s.

The cache key is the file's path, size and mtime plus the audio config, so a
re-run only decodes new or changed files. Clips that fail to decode (corrupt,
silent, too short) are dropped with a count, never silently mislabeled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siamese.config import AudioConfig
from siamese.training import ClipSet

# Clips longer than this are cropped to their first part in the cache: training
# draws random windows, and evaluation of very long clips costs CPU for nothing.
MAX_CACHED_S = 20.0


@dataclass(frozen=True)
class DecodeReport:
    """How the decode step went."""

    n_total: int
    n_decoded: int  # newly decoded this run
    n_failed: int
    failures: tuple[str, ...]  # "path: error" for the first few


def cache_key(path: str, audio: AudioConfig) -> str:
    """Stable key of (file identity, decoding settings)."""
    stat = os.stat(path)
    text = f"{os.path.abspath(path)}|{stat.st_size}|{int(stat.st_mtime)}|{audio.sample_rate}|{MAX_CACHED_S}"
    return hashlib.sha1(text.encode()).hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    """Where a decoded clip lives (two-level fan-out keeps folders small)."""
    return cache_dir / key[:2] / f"{key}.npy"


def _decode_many(paths: list[str], targets: list[str], sample_rate: int) -> list[str]:
    """Decode `paths` to `targets`; returns an error text per path ('' = ok). Runs inside a Ray task."""
    from siamese.audio import decode_audio  # imported in the task process

    audio = AudioConfig(sample_rate=sample_rate)
    errors = []
    for src, dst in zip(paths, targets, strict=True):
        try:
            wave = decode_audio(src, audio).waveform[: int(MAX_CACHED_S * sample_rate)]
            pcm = np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{dst}.{os.getpid()}.tmp.npy"
            np.save(tmp, pcm)
            os.replace(tmp, dst)  # atomic: a killed task never leaves a truncated cache file
            errors.append("")
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the build
            errors.append(f"{type(error).__name__}: {error}")
    return errors


def decode_to_cache(
    frame: pd.DataFrame, cache_dir: Path, audio: AudioConfig, chunk: int = 32
) -> tuple[pd.DataFrame, DecodeReport]:
    """Decode all rows of `frame` not yet cached, as Ray tasks; returns the rows that decoded, with `cache`."""
    import ray

    cache_dir = Path(cache_dir)
    targets = [str(cache_path(cache_dir, cache_key(p, audio))) for p in frame["path"]]
    todo = [i for i, t in enumerate(targets) if not os.path.exists(t)]
    failed: dict[int, str] = {}
    if todo:
        task = ray.remote(num_cpus=1)(_decode_many)
        refs = {}
        for start in range(0, len(todo), chunk):
            idx = todo[start : start + chunk]
            refs[task.remote([frame["path"].iloc[i] for i in idx], [targets[i] for i in idx], audio.sample_rate)] = idx
        for ref, idx in refs.items():
            for i, error in zip(idx, ray.get(ref), strict=True):
                if error:
                    failed[i] = f"{frame['path'].iloc[i]}: {error}"
    out = frame.copy()
    out["cache"] = targets
    out = out[[i not in failed for i in range(len(out))]].reset_index(drop=True)
    report = DecodeReport(len(frame), len(todo) - len(failed), len(failed), tuple(list(failed.values())[:10]))
    return out, report


def load_waveform(path: str) -> np.ndarray:
    """A cached clip as float32 in [-1, 1]."""
    return np.load(path).astype(np.float32) / 32767.0


def rows_to_clipset(rows: Sequence[dict] | pd.DataFrame) -> ClipSet:
    """ClipSet from rows with cache, label, group, generator, clip_id."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    loaded: dict[str, np.ndarray] = {}  # weighted copies share one array
    for r in rows:
        if r["cache"] not in loaded:
            loaded[r["cache"]] = load_waveform(r["cache"])
    return ClipSet(
        waveforms=[loaded[r["cache"]] for r in rows],
        labels=np.array([1 if r["label"] == "bonafide" else 0 for r in rows], dtype=np.int64),
        groups=[str(r["group"]) for r in rows],
        generators=[str(r["generator"]) for r in rows],
        clip_ids=[str(r["clip_id"]) for r in rows],
    )


def select_training_rows(frame: pd.DataFrame, augmentation: bool = True) -> pd.DataFrame:
    """Train-split rows; without `augmentation`, only the un-augmented copy of each clip."""
    rows = frame[frame["split"] == "train"]
    if not augmentation:
        rows = rows[rows["augmentation"] == ""]
    return rows.reset_index(drop=True)


def eval_rows(frame: pd.DataFrame, split: str, augmented: bool = True) -> pd.DataFrame:
    """Rows of a held-out split (augmented variants included by default: test covers degraded audio too)."""
    rows = frame[frame["split"] == split]
    if not augmented:
        rows = rows[rows["augmentation"] == ""]
    return rows.reset_index(drop=True)


def write_clipset_to_cache(clips: ClipSet, cache_dir: Path, prefix: str) -> pd.DataFrame:
    """Write in-memory clips (e.g. reviewer feedback) to the cache; rows usable like manifest rows."""
    rows = []
    for i, wave in enumerate(clips.waveforms):
        clip_id = clips.clip_ids[i] if clips.clip_ids else f"{prefix}-{i}"
        key = hashlib.sha1(f"{prefix}|{clip_id}|{len(wave)}".encode() + np.asarray(wave[:4096]).tobytes()).hexdigest()
        target = cache_path(Path(cache_dir), key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, np.clip(np.round(np.asarray(wave) * 32767.0), -32768, 32767).astype(np.int16))
        rows.append({
            "clip_id": clip_id, "cache": str(target), "path": str(target),
            "label": "bonafide" if int(clips.labels[i]) == 1 else "spoof",
            "group": f"{prefix}:{clips.groups[i]}", "generator": clips.generators[i],
            "split": "train", "augmentation": "",
        })
    return pd.DataFrame(rows)


def weight_rows(rows: pd.DataFrame, weight: float) -> pd.DataFrame:
    """Repeat rows as distinct sampler groups so they are drawn about `weight` times as often.

    The balanced sampler picks groups uniformly, so k copies in k distinct groups
    weigh k times as much; copies share one cached file and one array in memory.
    """
    copies = max(1, int(round(weight)))
    parts = []
    for k in range(copies):
        part = rows.copy()
        part["group"] = [f"{g}#{k}#{i}" for i, g in enumerate(part["group"])]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def load_devset(root: Path, cache_dir: Path, audio: AudioConfig) -> tuple[pd.DataFrame, DecodeReport] | None:
    """The cross-corpus devset (path,label,system,corpus,...) decoded to cache; None when absent.

    Only for reporting and comparing designs: nothing is ever fitted on it.
    """
    manifest = Path(root) / "manifest.csv"
    if not manifest.exists():
        return None
    raw = pd.read_csv(manifest)
    frame = pd.DataFrame({
        "path": [str((Path(root) / p).resolve()) for p in raw["path"]],
        "label": raw["label"].astype(str),
        "generator": raw["system"].astype(str),
        "corpus": raw.get("corpus", raw["system"]).astype(str),
    })
    frame["clip_id"] = frame["path"]
    frame["group"] = frame["generator"]
    return decode_to_cache(frame, cache_dir, audio)
