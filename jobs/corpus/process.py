"""Processing applied identically to both classes: 16 kHz, silence trim + random pad, crop, level, dither."""

from __future__ import annotations

import random

import librosa
import numpy as np

from siamese.audio import resample

SAMPLE_RATE = 16000
TARGET_RMS_DB = -23.0
LEVEL_SPREAD_DB = 6.0


def to_16k(waveform: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited resampling to 16 kHz mono float32."""
    return resample(np.asarray(waveform, dtype=np.float32), int(rate), SAMPLE_RATE)


def trim_silence(x: np.ndarray, top_db: float = 40.0) -> np.ndarray:
    """Cut leading/trailing stretches more than `top_db` below the clip's peak frame energy."""
    if len(x) < 1024:
        return x
    trimmed, _ = librosa.effects.trim(x, top_db=top_db, frame_length=512, hop_length=128)
    return trimmed if len(trimmed) >= 0.1 * SAMPLE_RATE else x


def crop(x: np.ndarray, rng: random.Random, min_s: float, max_s: float) -> np.ndarray:
    """Clips longer than `max_s` become a random segment of random length in [min_s, max_s]."""
    if len(x) <= max_s * SAMPLE_RATE:
        return x
    length = int(rng.uniform(min_s, max_s) * SAMPLE_RATE)
    start = rng.randrange(0, len(x) - length + 1)
    return x[start : start + length]


def finish(x: np.ndarray, rng: random.Random) -> np.ndarray:
    """Pad both ends with a random short pause, add a low dither floor, and set a random RMS level.

    Same distributions for every clip, whatever its class: so leading silence, digital zeros
    (WORLD, Piper) and level no longer tell bona fide from spoof.
    """
    lead = np.zeros(int(rng.uniform(0.02, 0.3) * SAMPLE_RATE), dtype=np.float32)
    tail = np.zeros(int(rng.uniform(0.02, 0.3) * SAMPLE_RATE), dtype=np.float32)
    x = np.concatenate([lead, x.astype(np.float32), tail])
    x = set_level(x, TARGET_RMS_DB + rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB))
    floor_db = rng.uniform(-80.0, -60.0)
    noise = np.random.default_rng(rng.getrandbits(32)).standard_normal(len(x)).astype(np.float32)
    return limit_peak(x + noise * np.float32(10 ** (floor_db / 20.0)))


def set_level(x: np.ndarray, rms_db: float) -> np.ndarray:
    """Scale to the given RMS (dBFS) measured over the louder half of the frames (pauses don't count)."""
    frames = librosa.util.frame(np.pad(x, (0, 400)), frame_length=400, hop_length=160)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=0)
    active = np.sort(energy)[len(energy) // 2 :]
    rms = float(np.sqrt(np.mean(active))) if len(active) else 0.0
    if rms <= 1e-9:
        return x
    return (x * (10 ** (rms_db / 20.0) / rms)).astype(np.float32)


def limit_peak(x: np.ndarray, peak: float = 0.97) -> np.ndarray:
    """Scale down (never clip) when the peak exceeds `peak`."""
    top = float(np.max(np.abs(x), initial=0.0))
    return (x * (peak / top)).astype(np.float32) if top > peak else x.astype(np.float32)
