"""Audio in: any common container, rate and channel count -> mono float32 at 16 kHz.

Decoding is done once, here. `soundfile` (libsndfile: wav, flac, ogg, mp3) is
tried first because it is fast and exact; PyAV (FFmpeg, bundled in its wheel)
covers the rest (m4a/aac, opus, webm...). Every failure is a typed
`siamese.errors.AudioError` so callers can record it instead of crashing.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from siamese.config import AudioConfig
from siamese.errors import (
    AudioError,
    EmptyInput,
    NotAudio,
    SilentAudio,
    TooLarge,
    TooShort,
    UndecodableAudio,
)

# Container signatures: bytes that say "this is meant to be audio", so a decoder
# failure on them is a corrupt file rather than a non-audio file.
_AUDIO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"RIFF"),
    (0, b"fLaC"),
    (0, b"OggS"),
    (0, b"ID3"),
    (0, b"FORM"),
    (0, b"\x1aE\xdf\xa3"),  # Matroska / WebM
    (4, b"ftyp"),  # MP4 / M4A
    (0, b"caff"),
)


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded clip: mono float32 waveform at `sample_rate`, plus what the source was."""

    waveform: np.ndarray
    sample_rate: int
    source_sample_rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / float(self.sample_rate)


def looks_like_audio(data: bytes) -> bool:
    """True when the bytes start with a known audio container signature (or an MP3 frame sync)."""
    for offset, magic in _AUDIO_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return True
    return len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0


def decode_audio(
    source: bytes | str | Path,
    config: AudioConfig | None = None,
    max_duration_s: float | None = None,
) -> DecodedAudio:
    """Decode bytes or a file path to mono float32 at `config.sample_rate`.

    Raises a subclass of `AudioError` for empty, non-audio, corrupt, silent,
    too-short or too-long input.
    """
    config = config or AudioConfig()
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    if not data:
        raise EmptyInput("zero-byte input")
    samples, rate = _decode_any(data, max_duration_s)
    return from_samples(samples, rate, config, max_duration_s)


def from_samples(
    samples: np.ndarray,
    rate: int,
    config: AudioConfig | None = None,
    max_duration_s: float | None = None,
) -> DecodedAudio:
    """Mix down, check and resample already-decoded samples ([n] or [n, channels])."""
    config = config or AudioConfig()
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    channels = samples.shape[1]
    if samples.shape[0] == 0:
        raise EmptyInput("the container holds no audio samples")
    mono = samples.mean(axis=1, dtype=np.float32) if channels > 1 else samples[:, 0]
    mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    duration = len(mono) / float(rate)
    if max_duration_s is not None and duration > max_duration_s:
        raise TooLarge(f"{duration:.0f} s of audio exceeds the {max_duration_s:.0f} s limit")
    if duration < config.min_duration_s:
        raise TooShort(f"{duration * 1000:.0f} ms of audio, minimum is {config.min_duration_s * 1000:.0f} ms")
    # Silence is judged on the signal around its mean: a constant level (a DC offset, a
    # stuck converter) carries no sound however high it sits, and would otherwise be
    # scored, and queued for review, as speech.
    if float(np.max(np.abs(mono - mono.mean(dtype=np.float64)), initial=0.0)) < config.silence_peak:
        level = float(np.max(np.abs(mono), initial=0.0))
        what = "digital silence" if level < config.silence_peak else f"a constant level of {mono[0]:.3g}, DC only"
        raise SilentAudio(f"no signal: peak variation below {config.silence_peak:g} full scale ({what})")
    waveform = resample(mono, rate, config.sample_rate)
    return DecodedAudio(
        waveform=np.ascontiguousarray(waveform, dtype=np.float32),
        sample_rate=config.sample_rate,
        source_sample_rate=int(rate),
        channels=int(channels),
    )


def resample(waveform: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling (torchaudio's windowed sinc); a no-op at equal rates."""
    if source_rate == target_rate:
        return waveform.astype(np.float32, copy=False)
    import torch  # only here: decoding at the model's rate needs no torch (the scoring driver never resamples)
    import torchaudio.functional as AF

    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    return AF.resample(tensor, int(source_rate), int(target_rate)).numpy()


def _decode_any(data: bytes, max_duration_s: float | None) -> tuple[np.ndarray, int]:
    """Return (samples [n, channels] float32, rate) using soundfile, then PyAV."""
    try:
        return _decode_soundfile(data, max_duration_s)
    except AudioError:
        raise
    except Exception as sf_error:  # libsndfile says no: try FFmpeg before judging
        try:
            return _decode_pyav(data, max_duration_s)
        except AudioError:
            raise
        except Exception as av_error:
            if looks_like_audio(data):
                raise UndecodableAudio(
                    f"corrupt or truncated audio ({type(sf_error).__name__}: {_describe(sf_error)}; "
                    f"ffmpeg: {av_error})"
                ) from av_error
            raise NotAudio(f"not a recognised audio format ({_describe(sf_error)})") from av_error


def _describe(error: Exception) -> str:
    """libsndfile's message without the in-memory buffer's repr (`<_io.BytesIO object at 0x...>`)."""
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "input", str(error))


def _decode_soundfile(data: bytes, max_duration_s: float | None) -> tuple[np.ndarray, int]:
    with soundfile.SoundFile(io.BytesIO(data)) as handle:
        rate = int(handle.samplerate)
        if max_duration_s is not None and handle.frames > 0 and handle.frames / rate > max_duration_s:
            raise TooLarge(f"{handle.frames / rate:.0f} s of audio exceeds the {max_duration_s:.0f} s limit")
        samples = handle.read(dtype="float32", always_2d=True)
    return samples, rate


def _decode_pyav(data: bytes, max_duration_s: float | None) -> tuple[np.ndarray, int]:
    import av  # imported lazily: only needed for containers libsndfile lacks

    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        streams = container.streams.audio
        if not streams:
            raise NotAudio("the file holds no audio stream")
        stream = streams[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        channels = int(stream.codec_context.channels or 1)
        # Planar float output of any layout: [channels, n] per frame.
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=rate)
        decoded = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                array = out.to_ndarray().astype(np.float32, copy=False)
                chunks.append(array.T)
                decoded += array.shape[1]
            if max_duration_s is not None and rate and decoded / rate > max_duration_s:
                raise TooLarge(f"more than {max_duration_s:.0f} s of audio")
    if not chunks or rate <= 0:
        raise EmptyInput("the audio stream holds no samples")
    samples = np.concatenate(chunks, axis=0)
    return samples.reshape(len(samples), -1)[:, : max(channels, 1)] if samples.ndim == 2 else samples[:, None], rate
