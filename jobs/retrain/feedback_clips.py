"""Verified reviewer feedback as training clips, split into train and held-back parts.

The caller reads the verdict rows (`feedback.queue.verified_feedback`) and closes its session
before calling `load_feedback_clips`: decoding every clip takes a while, and an open session would
hold the database (on SQLite, a write lock) for all of it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from siamese.audio import decode_audio
from siamese.config import AudioConfig
from siamese.errors import AudioError
from siamese.training import ClipSet
from voxguard.storage import StorageOptions, read_bytes


@dataclass
class FeedbackClips:
    """Feedback clips the challenger trains on, and the ones held back for the gate."""

    train: ClipSet
    heldback: ClipSet
    skipped: list[str] = field(default_factory=list)


def _empty() -> ClipSet:
    return ClipSet(waveforms=[], labels=np.zeros(0, dtype=np.int64), groups=[], generators=[], clip_ids=[])


def _holdback_order(waveform: np.ndarray, seed: int) -> str:
    """A stable pseudo-random rank: the same clip is always held back (or not) for a given seed.

    Keyed on the decoded audio, not the URI, so the split (and so the challenger's
    weights) does not depend on where the archive happens to live.
    """
    return hashlib.sha256(f"{seed}|".encode() + np.ascontiguousarray(waveform, dtype=np.float32).tobytes()).hexdigest()


def load_feedback_clips(
    verdicts: Iterable[tuple[str, str, Any]],
    audio: AudioConfig,
    s3: StorageOptions,
    holdback_fraction: float = 0.3,
    min_heldback: int = 2,
    seed: int = 0,
) -> FeedbackClips:
    """Decode every clip of `verdicts` ((uri, final verdict, decided_at) rows, oldest first: the latest
    verdict per URI wins); a clip that cannot be read is listed in `skipped`, not dropped silently."""
    latest: dict[str, str] = {}
    for uri, verdict, _ in verdicts:
        latest[uri] = verdict
    clips: list[tuple[str, np.ndarray, int]] = []
    skipped = []
    for uri, verdict in sorted(latest.items()):
        try:
            waveform = decode_audio(read_bytes(uri, s3), audio).waveform
        except (AudioError, OSError, ValueError) as error:
            skipped.append(f"{uri}: {error}")
            continue
        clips.append((uri, waveform, 1 if verdict == "bonafide" else 0))
    clips.sort(key=lambda c: (_holdback_order(c[1], seed), c[0]))  # the URI only breaks ties (duplicate audio)
    n_held = min(len(clips) // 2, max(min_heldback, math.ceil(holdback_fraction * len(clips))))
    held, train = clips[:n_held], clips[n_held:]
    return FeedbackClips(train=_as_clipset(train), heldback=_as_clipset(held), skipped=skipped)


def _as_clipset(items: list[tuple[str, np.ndarray, int]]) -> ClipSet:
    if not items:
        return _empty()
    return ClipSet(
        waveforms=[w for _, w, _ in items],
        labels=np.array([y for _, _, y in items], dtype=np.int64),
        groups=[f"feedback:{u}" for u, _, _ in items],
        generators=["feedback" if y == 0 else "bonafide" for _, _, y in items],
        clip_ids=[f"feedback:{u}" for u, _, _ in items],
    )
