"""Audio in: every edge case is generated at test time and must give the right rate,
length and channel count, or the right typed error."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from siamese.audio import decode_audio, from_samples, looks_like_audio
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

TARGET = 16000


def _noise(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (int(round(seconds * rate)),) if channels == 1 else (int(round(seconds * rate)), channels)
    return (rng.normal(size=shape) * 0.1).astype(np.float32)


def _encode(samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("rate", "channels", "seconds"),
    [(8000, 1, 2.0), (16000, 1, 1.5), (22050, 1, 1.0), (44100, 2, 1.0), (48000, 2, 2.0), (96000, 8, 1.0)],
)
def test_any_rate_and_channel_count_becomes_mono_16k(rate, channels, seconds, tmp_path):
    path = tmp_path / f"clip_{rate}_{channels}.wav"
    sf.write(path, _noise(seconds, rate, channels), rate, subtype="PCM_16")
    audio = decode_audio(path)
    assert audio.sample_rate == TARGET
    assert audio.source_sample_rate == rate
    assert audio.channels == channels
    assert audio.waveform.ndim == 1 and audio.waveform.dtype == np.float32
    assert len(audio.waveform) == pytest.approx(seconds * TARGET, abs=1)
    assert audio.duration_s == pytest.approx(seconds, abs=1e-3)


def test_bytes_and_path_decode_identically(tmp_path):
    data = _encode(_noise(1.0, 44100), 44100, "FLAC")
    path = tmp_path / "clip.flac"
    path.write_bytes(data)
    np.testing.assert_array_equal(decode_audio(data).waveform, decode_audio(path).waveform)
    np.testing.assert_array_equal(decode_audio(str(path)).waveform, decode_audio(path).waveform)


def test_resampling_keeps_a_tone_at_its_frequency():
    rate = 48000
    t = np.arange(rate) / rate
    audio = from_samples(0.5 * np.sin(2 * np.pi * 1000 * t), rate)
    spectrum = np.abs(np.fft.rfft(audio.waveform))
    peak_hz = np.argmax(spectrum) * TARGET / len(audio.waveform)
    assert peak_hz == pytest.approx(1000, abs=2)


def test_stereo_is_averaged_to_mono():
    # Not constant levels: a DC-only clip is silent (issue 15).
    tone = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32)
    left, right = 0.5 + 0.3 * tone, -0.1 + 0.1 * tone
    audio = from_samples(np.stack([left, right], axis=1), 16000)
    np.testing.assert_allclose(audio.waveform, 0.2 + 0.2 * tone, atol=1e-6)


def test_short_clip_of_0_2_s_is_accepted(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _noise(0.2, 16000), 16000)
    audio = decode_audio(path)
    assert len(audio.waveform) == 3200


def test_too_short_clip_is_a_typed_error():
    with pytest.raises(TooShort):
        decode_audio(_encode(_noise(0.05, 16000), 16000))


def test_ten_minutes(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, _noise(600.0, 16000), 16000, subtype="PCM_16")
    audio = decode_audio(path)
    assert len(audio.waveform) == 600 * TARGET
    assert audio.duration_s == pytest.approx(600.0)


def test_duration_limit_is_enforced_before_decoding_everything():
    with pytest.raises(TooLarge):
        decode_audio(_encode(_noise(3.0, 16000), 16000), max_duration_s=2.0)


def test_digital_silence_is_rejected():
    with pytest.raises(SilentAudio):
        decode_audio(_encode(np.zeros(16000, dtype=np.float32), 16000))
    # Dither-level noise below -80 dBFS is still "nothing to judge".
    with pytest.raises(SilentAudio):
        decode_audio(_encode(np.full(16000, 1e-5, dtype=np.float32), 16000, subtype="FLOAT"))


def test_quiet_but_real_audio_is_not_silence():
    audio = decode_audio(_encode(_noise(1.0, 16000) * 0.01, 16000, subtype="FLOAT"))
    assert len(audio.waveform) == TARGET


def test_truncated_flac_is_undecodable(tmp_path):
    data = _encode(_noise(3.0, 16000), 16000, "FLAC")
    with pytest.raises(UndecodableAudio):
        decode_audio(data[: len(data) // 2])


def test_truncated_wav_decodes_what_is_there():
    data = _encode(_noise(3.0, 16000), 16000, subtype="PCM_16")
    audio = decode_audio(data[: 44 + 2 * 16000])  # header + exactly one second of samples
    assert len(audio.waveform) == TARGET


def test_text_file_named_wav_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(NotAudio):
        decode_audio(path)


def test_jpeg_bytes_are_not_audio():
    with pytest.raises(NotAudio):
        decode_audio(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))


def test_empty_file_and_empty_container(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyInput):
        decode_audio(path)
    with pytest.raises(EmptyInput):
        decode_audio(_encode(np.zeros(0, dtype=np.float32), 16000))


def test_riff_header_with_garbage_is_undecodable():
    with pytest.raises(UndecodableAudio):
        decode_audio(b"RIFF\x00\x00\x00\x00WAVEgarbage" + bytes(100))


def test_every_error_is_an_audio_error_with_a_code():
    for error_type in (EmptyInput, NotAudio, UndecodableAudio, SilentAudio, TooShort, TooLarge):
        error = error_type("detail")
        assert isinstance(error, AudioError)
        assert str(error).startswith(f"{error_type.code}: ")


def test_nan_samples_are_zeroed():
    samples = _noise(1.0, 16000)
    samples[100:200] = np.nan
    audio = from_samples(samples, 16000)
    assert np.isfinite(audio.waveform).all()


def test_custom_target_rate():
    audio = from_samples(_noise(1.0, 16000), 16000, AudioConfig(sample_rate=8000))
    assert audio.sample_rate == 8000 and len(audio.waveform) == 8000


def test_magic_sniffing():
    assert looks_like_audio(b"RIFF....WAVE")
    assert looks_like_audio(b"fLaC\x00")
    assert looks_like_audio(b"\x00\x00\x00\x20ftypM4A ")
    assert not looks_like_audio(b"hello world")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg binary not installed")
@pytest.mark.parametrize(("suffix", "codec"), [("mp3", "libmp3lame"), ("ogg", "libvorbis"), ("m4a", "aac")])
def test_encoded_formats_via_ffmpeg(suffix, codec, tmp_path: Path):
    source = tmp_path / "source.wav"
    t = np.arange(2 * 44100) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(source, np.stack([tone, tone], axis=1), 44100)
    encoded = tmp_path / f"clip.{suffix}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c:a", codec, "-b:a", "96k", str(encoded)],
        check=True,
        timeout=60,
    )
    audio = decode_audio(encoded)
    assert audio.sample_rate == TARGET
    assert audio.source_sample_rate == 44100
    assert audio.channels == 2
    # Lossy codecs add encoder delay / padding (up to a few tens of ms).
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(audio.waveform))
    assert np.argmax(spectrum) * TARGET / len(audio.waveform) == pytest.approx(440, abs=3)
