"""Cut a waveform into fixed windows with a hop, covering every sample.

Short clips are padded by repetition (a repeated clip keeps its spectral
statistics; zero padding would add silence the model could key on). The last
window is aligned to the end of the clip, so the tail is always scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siamese.config import AudioConfig


@dataclass(frozen=True)
class Windows:
    """Windows of one clip: `frames` [n, window_samples] and their (start, end) seconds."""

    frames: np.ndarray
    starts_s: np.ndarray
    ends_s: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start offsets of the windows covering `n_samples` (the last one flush with the end)."""
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, n_samples - window)
    return starts


def pad_window(samples: np.ndarray, window: int) -> np.ndarray:
    """`samples` repeated until `window` long (a clip shorter than one window), else unchanged.

    The one padding rule of scoring and training: serving, the Ray pipeline's actors and
    training crops all pad this way, so a short clip looks the same to the model everywhere.
    """
    n = len(samples)
    if n >= window:
        return samples
    if n == 0:
        raise ValueError("cannot pad an empty window")
    return np.tile(samples, int(np.ceil(window / n)))[:window]


def plan_pieces(n_samples: int, config: AudioConfig, windows_per_piece: int) -> list[tuple[int, int, list[int]]]:
    """The windows of a clip of `n_samples`, grouped `windows_per_piece` at a time: (lo, hi, starts).

    Each piece covers samples [lo, hi) and holds the starts of its windows, placed exactly as
    `make_windows` places them; a clip no longer than one window is one piece with one window at 0
    (padded by `pad_window` when scored). Why pieces: a long clip travels through a pipeline as a
    few bounded rows instead of one huge one.
    """
    window = config.window_samples
    if n_samples <= window:
        return [(0, n_samples, [0])]
    starts = window_starts(n_samples, window, config.hop_samples)
    pieces = []
    for first in range(0, len(starts), max(1, windows_per_piece)):
        chunk = starts[first : first + max(1, windows_per_piece)]
        pieces.append((int(chunk[0]), int(chunk[-1]) + window, [int(s) for s in chunk]))
    return pieces


def make_windows(waveform: np.ndarray, config: AudioConfig | None = None) -> Windows:
    """Cut `waveform` (mono, at config.sample_rate) into windows; see module docstring."""
    config = config or AudioConfig()
    window, hop, rate = config.window_samples, config.hop_samples, config.sample_rate
    n = len(waveform)
    if n == 0:
        raise ValueError("cannot window an empty waveform")
    if n < window:
        frame = pad_window(waveform, window)
        return Windows(
            frames=frame[None, :].astype(np.float32, copy=False),
            starts_s=np.zeros(1),
            ends_s=np.array([n / rate]),
        )
    starts = window_starts(n, window, hop)
    # A strided view, copied once into a contiguous batch.
    view = np.lib.stride_tricks.sliding_window_view(waveform, window)
    frames = np.ascontiguousarray(view[starts], dtype=np.float32)
    return Windows(frames=frames, starts_s=starts / rate, ends_s=(starts + window) / rate)
