"""Random degradations drawn from ONE distribution for every clip, whatever its class.

Band limits (telephone, 8/11.025 kHz round trips, low-pass), codecs through ffmpeg (mp3, opus,
mu-law, GSM), coloured noise at several SNRs, synthetic reverberation and gain. Each augmented
variant applies 1-3 of them; `describe` strings go into the manifest's `augmentation` column.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable

import numpy as np
import scipy.signal

from jobs.corpus.process import SAMPLE_RATE, resample

Effect = Callable[[np.ndarray, random.Random], tuple[np.ndarray, str]]

_CODECS: tuple[tuple[str, list[str], str, int], ...] = (
    # (label, encoder args, container, rate used by the codec)
    ("mp3-16k", ["-c:a", "libmp3lame", "-b:a", "16k"], "mp3", 16000),
    ("mp3-32k", ["-c:a", "libmp3lame", "-b:a", "32k"], "mp3", 16000),
    ("mp3-64k", ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3", 16000),
    ("opus-8k", ["-c:a", "libopus", "-b:a", "8k"], "ogg", 16000),
    ("opus-16k", ["-c:a", "libopus", "-b:a", "16k"], "ogg", 16000),
    ("opus-32k", ["-c:a", "libopus", "-b:a", "32k"], "ogg", 16000),
    ("mulaw-8k", ["-c:a", "pcm_mulaw"], "wav", 8000),
    ("gsm-8k", ["-c:a", "libgsm"], "gsm", 8000),
)


def bandlimit(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Telephone band-pass, a sample-rate round trip, or a random low-pass."""
    kind = rng.choice(("telephone", "sr8000", "sr11025", "lowpass"))
    if kind == "telephone":
        sos = scipy.signal.butter(6, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
        return scipy.signal.sosfiltfilt(sos, x).astype(np.float32), "telephone"
    if kind.startswith("sr"):
        rate = int(kind[2:])
        return resample(resample(x, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: len(x)], f"resample-{rate}"
    cutoff = rng.choice((3500, 4500, 5500, 6500, 7200))
    sos = scipy.signal.butter(8, cutoff, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    return scipy.signal.sosfiltfilt(sos, x).astype(np.float32), f"lowpass-{cutoff}"


def codec(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Encode and decode with ffmpeg (a subprocess) at a random codec / bit rate."""
    label, args, container, rate = rng.choice(_CODECS)
    pcm = np.clip(x, -1.0, 1.0).astype("<f4").tobytes()
    encode = ["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
              "-ar", str(rate), *args, "-f", container, "pipe:1"]
    encoded = subprocess.run(encode, input=pcm, capture_output=True, check=True, timeout=60).stdout
    # Raw GSM has no header: tell the decoder what it is.
    hint = ["-f", "gsm", "-ar", "8000"] if container == "gsm" else []
    decode = ["ffmpeg", "-v", "error", *hint, "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"]
    decoded = subprocess.run(decode, input=encoded, capture_output=True, check=True, timeout=60).stdout
    y = np.frombuffer(decoded, dtype="<f4").astype(np.float32)
    return (y if len(y) else x), label


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise with unit RMS."""
    white = rng.standard_normal(n)
    if colour != "white":
        spectrum = np.fft.rfft(white)
        freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spectrum /= freqs ** (0.5 if colour == "pink" else 1.0)
        white = np.fft.irfft(spectrum, n)
    return (white / (np.sqrt(np.mean(white**2)) + 1e-12)).astype(np.float32)


def noise(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Additive coloured noise at an SNR from 5 to 30 dB."""
    colour = rng.choice(("white", "pink", "brown"))
    snr = rng.choice((5, 10, 15, 20, 25, 30))
    signal_rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-9
    n = coloured_noise(len(x), colour, np.random.default_rng(rng.getrandbits(32)))
    return (x + n * signal_rms / (10 ** (snr / 20.0))).astype(np.float32), f"noise-{colour}-{snr}dB"


def reverb(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Convolve with a synthetic room: a direct path plus exponentially decaying noise (RT60 0.15-0.8 s)."""
    rt60 = rng.uniform(0.15, 0.8)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = np.random.default_rng(rng.getrandbits(32)).standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir = tail * rng.uniform(0.1, 0.5)
    ir[0] = 1.0
    wet = scipy.signal.fftconvolve(x, ir)[: len(x)]
    return wet.astype(np.float32), f"reverb-{rt60:.2f}s"


def gain(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """A random gain (the level is re-randomised afterwards; this mainly changes clipping headroom)."""
    db = rng.choice((-12, -6, 6, 12))
    return np.clip(x * 10 ** (db / 20.0), -1.0, 1.0).astype(np.float32), f"gain{db:+d}dB"


def effects() -> dict[str, Effect]:
    """Effects usable on this machine (codecs need ffmpeg)."""
    table: dict[str, Effect] = {"bandlimit": bandlimit, "noise": noise, "reverb": reverb, "gain": gain}
    if shutil.which("ffmpeg"):
        table["codec"] = codec
    return table


def augment(x: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str]:
    """Apply 1-3 distinct random effects in a fixed, realistic order (room, noise, channel, codec)."""
    table = effects()
    chosen = set(rng.sample(sorted(table), k=rng.randint(1, min(3, len(table)))))
    parts = []
    for name in ("reverb", "noise", "gain", "bandlimit", "codec"):
        if name in chosen:
            x, label = table[name](x, rng)
            parts.append(label)
    return x, "+".join(parts)
