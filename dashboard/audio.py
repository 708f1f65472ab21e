"""Server-side audio for the review page: fetch bytes, spectrogram, segment timeline chart.

Audio is read by the dashboard process (local path or `s3://` with the server's
credential chain) and handed to `st.audio` as bytes, so the browser never sees
a bucket URL, a presigned link or a credential.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import soundfile as sf

from voxguard.roots import resolve_within
from voxguard.storage import StorageOptions, read_bytes
from voxguard.storage.s3 import s3_client, split_s3

# The review page never needs more than this; longer clips are shown truncated.
DISPLAY_MAX_S = 600.0
SUSPICIOUS_PROB = 0.5  # a segment below this bona fide probability is drawn (and listed) as suspicious


@dataclass(frozen=True)
class Spectrogram:
    """Log-magnitude spectrogram downsampled for display: db[freq, time]."""

    db: np.ndarray
    times_s: np.ndarray
    freqs_hz: np.ndarray
    duration_s: float
    nyquist_hz: float


def fetch_audio(uri: str, roots: Sequence[str], storage: StorageOptions, max_bytes: int | None = None) -> bytes:
    """The clip's bytes, read on the server (local file, `file://` or `s3://`).

    Only from under `roots` (the settings' allowed source roots; symlinks followed):
    the review page must not become a way to read any file the server can.
    Raises `AccessDenied` otherwise. `storage`: where object stores live;
    `max_bytes`: larger objects are refused (the settings' max_file_bytes).
    """
    uri = resolve_within(uri, list(roots), "audio")
    return read_bytes(uri, storage, max_bytes=max_bytes)


def fingerprint_matches(data: bytes, expected: str | None, uri: str, storage: StorageOptions) -> bool | None:
    """Whether `data` is the audio that was scored: None when no fingerprint was recorded.

    Why: the review page reads the path at review time. Had the file been
    replaced (or a link re-pointed) since scoring, a reviewer would hear other
    audio than the model judged and their verdict would train on the wrong
    clip. Local files carry a sha256 of their bytes; S3 objects their ETag,
    compared with the object's current ETag.
    """
    if not expected:
        return None
    if expected.startswith("sha256:"):
        return expected == "sha256:" + hashlib.sha256(data).hexdigest()
    if expected.startswith("etag:") and uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        head = s3_client(storage).head_object(Bucket=bucket, Key=key)
        return str(head.get("ETag", "")).strip('"') == expected.removeprefix("etag:")
    return False


def audio_mime(uri: str) -> str:
    """MIME type for `st.audio` from the file name (wav when unknown)."""
    guessed, _ = mimetypes.guess_type(uri.split("?")[0])
    if guessed and guessed.startswith("audio/"):
        return {"audio/x-wav": "audio/wav"}.get(guessed, guessed)
    return "audio/wav"


def decode_mono(data: bytes, max_s: float = DISPLAY_MAX_S) -> tuple[np.ndarray, int]:
    """Mono float32 samples (at most `max_s` seconds) and their rate: libsndfile, then FFmpeg.

    Kept separate from `siamese.audio` on purpose: that module pulls in torch
    (seconds of import time) for resampling, which a display does not need.
    """
    try:
        with sf.SoundFile(io.BytesIO(data)) as handle:
            rate = int(handle.samplerate)
            samples = handle.read(frames=int(max_s * rate), dtype="float32", always_2d=True)
        return samples.mean(axis=1), rate
    except Exception:  # libsndfile does not know the container (mp3 in old builds, m4a, ...)
        import av

        chunks, rate = [], 0
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate or 0)
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            for frame in container.decode(stream):
                chunks += [out.to_ndarray()[0] for out in resampler.resample(frame)]
                if sum(c.size for c in chunks) >= max_s * rate:
                    break
        wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        return wave[: int(max_s * rate)], rate


def spectrogram(data: bytes, max_time_bins: int = 160, n_freq_bins: int = 48) -> Spectrogram:
    """Decode and compute a coarse spectrogram (enough to see artefacts, small enough for a chart)."""
    wave, rate = decode_mono(data)
    return spectrogram_of(wave, rate, max_time_bins, n_freq_bins)


def spectrogram_of(wave: np.ndarray, rate: int, max_time_bins: int = 160, n_freq_bins: int = 48) -> Spectrogram:
    """Spectrogram of decoded mono samples, averaged into at most `max_time_bins` x `n_freq_bins` cells."""
    n_fft = 1 << int(np.ceil(np.log2(0.032 * rate)))  # ~32 ms windows, 10 ms hop
    hop = max(1, int(0.010 * rate))
    if wave.size < n_fft:
        wave = np.pad(wave, (0, n_fft - wave.size))
    n_frames = 1 + (wave.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = wave[idx] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [time, freq]
    # Average into display cells: time bins by frame groups, frequency bins linearly.
    t_edges = np.linspace(0, n_frames, min(max_time_bins, n_frames) + 1).astype(int)
    f_edges = np.linspace(0, power.shape[1], n_freq_bins + 1).astype(int)
    cells = np.add.reduceat(np.add.reduceat(power, t_edges[:-1], axis=0), f_edges[:-1], axis=1)
    counts = np.outer(np.diff(t_edges), np.diff(f_edges)).clip(min=1)
    db = 10.0 * np.log10(cells / counts + 1e-10)
    db = np.maximum(db, db.max() - 80.0)  # 80 dB dynamic range, like most viewers
    times = t_edges[:-1] * hop / rate
    freqs = f_edges[:-1] * (rate / 2) / power.shape[1]
    return Spectrogram(db=db.T, times_s=times, freqs_hz=freqs, duration_s=float(wave.size / rate),
                       nyquist_hz=rate / 2)


def segments_frame(segments: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Segments as a table (index = segment number), with a `suspicious` column."""
    df = pd.DataFrame(list(segments), columns=["start_s", "end_s", "score", "prob_bonafide"]).astype(float)
    df["segment"] = np.arange(len(df))
    df["suspicious"] = df["prob_bonafide"].fillna(1.0) < SUSPICIOUS_PROB
    # Windows overlap (hop < window): each band covers its window up to the next start, so bands tile.
    df["band_end_s"] = np.minimum(df["end_s"], df["start_s"].shift(-1).fillna(np.inf))
    return df


THRESHOLD_COLOUR = "#F0E442"  # Okabe-Ito yellow: readable on the dark spectrogram, unlike black
BAND_COLOUR = "#E69F00"  # the "inconclusive" colour of the job histogram


def timeline_chart(spec: Spectrogram | None, segments: pd.DataFrame, selection: str = "seg",
                   lines: dict[str, float] | None = None) -> alt.LayerChart:
    """Spectrogram with the per-segment bona fide probability drawn over it.

    Segment bands are clickable: the point selection named `selection` carries
    the clicked segment's `segment`, `start_s` and `end_s`. `lines` (the model's
    threshold and abstain band already in P(bona fide) units, see
    `siamese.calibration.probability_lines`) adds the band as a shaded strip
    and the threshold as a solid line on the probability axis.
    """
    layers: list[alt.Chart] = []
    if spec is not None:
        t_step = np.diff(np.append(spec.times_s, spec.duration_s))
        f_step = np.diff(np.append(spec.freqs_hz, spec.nyquist_hz))
        tt, ff = np.meshgrid(np.arange(spec.times_s.size), np.arange(spec.freqs_hz.size))
        cells = pd.DataFrame({
            # Cells overlap their neighbours by a hair: abutting rects leave anti-aliasing seams.
            "t0": spec.times_s[tt.ravel()].round(3), "t1": (spec.times_s + 1.3 * t_step)[tt.ravel()].round(3),
            "f0": spec.freqs_hz[ff.ravel()].round(0), "f1": (spec.freqs_hz + 1.3 * f_step)[ff.ravel()].round(0),
            "db": spec.db.ravel().round(1),
        })
        layers.append(alt.Chart(cells).mark_rect(strokeWidth=0).encode(
            x=alt.X("t0:Q", title="time (s)", scale=alt.Scale(domain=[0, spec.duration_s], clamp=True)), x2="t1",
            y=alt.Y("f0:Q", title="frequency (Hz)", scale=alt.Scale(domain=[0, spec.nyquist_hz], clamp=True)),
            y2="f1",
            color=alt.Color("db:Q", scale=alt.Scale(scheme="magma"), legend=None), tooltip=alt.value(None),
        ))
    pick = alt.selection_point(name=selection, fields=["segment", "start_s", "end_s"], on="click")
    prob_axis = alt.Y("prob_bonafide:Q", title="P(bona fide)", scale=alt.Scale(domain=[0, 1]),
                      axis=alt.Axis(orient="right"))
    bands = alt.Chart(segments).mark_rect().encode(
        x=alt.X("start_s:Q", title="time (s)"), x2="band_end_s",
        color=alt.condition("datum.suspicious", alt.value("#00e5ff"), alt.value("#ffffff")),
        # Suspicious bands tinted cyan (visible on the dark magma spectrogram, unlike red) with a
        # bright outline; the others nearly clear (but still clickable); the picked one brighter.
        stroke=alt.condition("datum.suspicious", alt.value("#00e5ff"), alt.value("#ffffff")),
        strokeWidth=alt.condition("datum.suspicious", alt.value(2.0), alt.value(0.5)),
        opacity=alt.when(pick, empty=False).then(alt.value(0.45))
        .when(alt.datum.suspicious).then(alt.value(0.28)).otherwise(alt.value(0.02)),
        tooltip=["segment", alt.Tooltip("start_s", format=".1f"), alt.Tooltip("end_s", format=".1f"),
                 alt.Tooltip("prob_bonafide", format=".3f"), alt.Tooltip("score", format=".3f")],
    ).add_params(pick)
    mids = segments.assign(mid_s=(segments["start_s"] + segments["end_s"]) / 2)
    line = alt.Chart(mids).mark_line(point=True, color="white", strokeWidth=2).encode(
        x="mid_s:Q", y=prob_axis, tooltip=alt.value(None))
    # The line below which a segment counts as suspicious (listed with ⚠ and outlined).
    flag_line = alt.Chart(pd.DataFrame({"p": [SUSPICIOUS_PROB]})).mark_rule(
        color="#00e5ff", strokeDash=[5, 4], strokeWidth=1.5).encode(
        y=alt.Y("p:Q", scale=alt.Scale(domain=[0, 1]), axis=None),
        tooltip=[alt.Tooltip("p", title="suspicious below P(bona fide)")])
    layers += [bands]
    if lines is not None:
        layers += operating_layers(lines)
    layers += [line, flag_line]
    return alt.layer(*layers).resolve_scale(y="independent", color="independent").properties(height=260)


def operating_layers(lines: dict[str, float]) -> list[alt.Chart]:
    """The abstain band (a strip across the clip) and the threshold (a line), on a [0, 1] P(bona fide) axis."""
    p = alt.Scale(domain=[0, 1])
    band = alt.Chart(pd.DataFrame([{"lo": lines["abstain_low"], "hi": lines["abstain_high"],
                                    "what": "abstain band"}])).mark_rect(
        color=BAND_COLOUR, opacity=0.22, stroke=BAND_COLOUR, strokeWidth=1, strokeDash=[2, 2]).encode(
        y=alt.Y("lo:Q", scale=p, axis=None), y2="hi:Q",
        tooltip=[alt.Tooltip("what:N", title=" "), alt.Tooltip("lo:Q", title="from P", format=".3f"),
                 alt.Tooltip("hi:Q", title="to P", format=".3f")])
    rule = alt.Chart(pd.DataFrame([{"p": lines["threshold"], "what": "model threshold"}])).mark_rule(
        color=THRESHOLD_COLOUR, strokeWidth=2).encode(
        y=alt.Y("p:Q", scale=p, axis=None),
        tooltip=[alt.Tooltip("what:N", title=" "), alt.Tooltip("p:Q", title="P(bona fide)", format=".3f")])
    return [band, rule]
