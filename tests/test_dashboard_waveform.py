"""The clip view's data (dashboard/waveform.py): peaks, the spectrogram bytes, regions with and without the model."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile as sf

from dashboard import waveform
from dashboard.audio import segments_frame


def test_peaks_are_the_min_and_max_of_each_column():
    wave = np.array([0.1, -0.5, 0.3, 0.9, -0.2, 0.0, 0.4, -0.8], dtype=np.float32)
    np.testing.assert_allclose(waveform.peaks(wave, 4), [[-0.5, 0.1], [0.3, 0.9], [-0.2, 0.0], [-0.8, 0.4]])
    # Uneven runs still cover every sample exactly once: the extremes are never lost.
    pk = waveform.peaks(np.sin(np.linspace(0, 20, 1001)).astype(np.float32), 7)
    assert pk.shape == (7, 2) and pk.min() == pytest.approx(-1, abs=1e-3) and pk.max() == pytest.approx(1, abs=1e-3)
    assert (pk[:, 0] <= pk[:, 1]).all()


def test_peaks_of_short_and_empty_input():
    assert waveform.peaks(np.array([0.5, -0.25], dtype=np.float32), 10).tolist() == [[0.5, 0.5], [-0.25, -0.25]]
    assert waveform.peaks(np.zeros(0, dtype=np.float32), 10).shape == (0, 2)


def test_quantised_peaks_are_normalised_small_integers_at_the_display_rate():
    rate = 16_000
    wave = (0.1 * np.sin(2 * np.pi * 5 * np.arange(3 * rate) / rate)).astype(np.float32)  # quiet: normalised
    values, per_s = waveform.quantised_peaks(wave, rate)
    assert per_s == pytest.approx(waveform.PEAKS_PER_S) and len(values) == 2 * 3 * waveform.PEAKS_PER_S
    assert max(values) == waveform.PEAK_LEVELS and min(values) == -waveform.PEAK_LEVELS
    assert all(isinstance(v, int) for v in values)
    # A long clip is capped: coarser columns, the JSON stays small.
    values, per_s = waveform.quantised_peaks(np.zeros(10 * 60 * 8_000, dtype=np.float32), 8_000)
    assert len(values) == 2 * waveform.MAX_PEAKS and per_s == pytest.approx(waveform.MAX_PEAKS / 600)
    assert set(values) == {0}  # silence stays flat (no division by zero)


def test_clip_picture_from_wav_bytes():
    rate = 16_000
    t = np.arange(2 * rate) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.5 * np.sin(2 * np.pi * 2_000 * t)).astype(np.float32), rate, format="WAV")
    pic = waveform.clip_picture(buf.getvalue())
    assert pic["duration_s"] == pytest.approx(2.0)
    spec = pic["spectrogram"]
    cells = np.frombuffer(base64.b64decode(spec["b64"]), dtype=np.uint8).reshape(spec["rows"], spec["cols"])
    assert spec["rows"] == waveform.SPEC_ROWS and spec["nyquist_hz"] == 8_000
    # Rows run from Nyquist (top) down: the 2 kHz tone is the loudest row, three quarters of the way down.
    loudest = int(cells.mean(axis=1).argmax())
    assert loudest == pytest.approx(waveform.SPEC_ROWS * (1 - 2_000 / 8_000), abs=2)
    json.dumps(pic)  # plain JSON: numbers and one base64 string


def test_regions_hide_the_model_in_blind_review():
    segs = segments_frame([{"start_s": 0.0, "end_s": 4.0, "score": 1.2, "prob_bonafide": 0.8},
                           {"start_s": 2.0, "end_s": 6.0, "score": -2.0, "prob_bonafide": 0.1},
                           {"start_s": 4.0, "end_s": 7.5, "score": None, "prob_bonafide": None}])
    shown = waveform.regions(segs, shown=True)
    assert [(r["start_s"], r["band_end_s"], r["end_s"]) for r in shown] == [(0, 2, 4), (2, 4, 6), (4, 7.5, 7.5)]
    assert [r["suspicious"] for r in shown] == [False, True, False]
    assert [r["prob_bonafide"] for r in shown] == [0.8, 0.1, None]
    blind = waveform.regions(segs, shown=False)
    assert all(set(r) == {"id", "start_s", "end_s", "band_end_s"} for r in blind)
    assert "prob" not in json.dumps(blind) and "suspicious" not in json.dumps(blind)
