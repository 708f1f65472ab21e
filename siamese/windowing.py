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


def make_windows(waveform: np.ndarray, config: AudioConfig | None = None) -> Windows:
    """Cut `waveform` (mono, at config.sample_rate) into windows; see module docstring."""
    config = config or AudioConfig()
    window, hop, rate = config.window_samples, config.hop_samples, config.sample_rate
    n = len(waveform)
    if n == 0:
        raise ValueError("cannot window an empty waveform")
    if n < window:
        repeats = int(np.ceil(window / n))
        frame = np.tile(waveform, repeats)[:window]
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
