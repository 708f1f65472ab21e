"""The clip page's waveform/spectrogram view: playhead, zoom, the model's windows as regions that play on click.

Why hand-written: the maintained component (streamlit-wavesurfer 0.6.0) was examined and not adopted
(docs/review.md: a development-server switch on a generic environment variable, server-side fetching of
any non-path string, the whole clip base64-encoded through the websocket). This view is small instead:

- the server decodes the clip once and sends *pictures of it* — min/max peaks per display column and a
  log-power spectrogram quantised to bytes — never the audio itself;
- the browser plays the audio through the page's own `st.audio` element (the media Streamlit already
  serves from bytes read under the source roots by `dashboard.audio.fetch_audio`), so no new file path,
  URL or transport exists; Alt+K and the verdict keys keep working on the same element;
- everything goes to the browser as JSON numbers (`st.components.v2`, no iframe, no external script): no
  clip name, note or other user text is sent, and the script sets only `textContent`;
- in blind review the regions carry no probability and no "suspicious" flag, so nothing of the model's
  output is in the page before the reviewer votes.
"""

from __future__ import annotations

import base64
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboard.audio import decode_mono, spectrogram_of

PEAKS_PER_S = 200  # 5 ms per column: sharp enough at the deepest zoom the view allows (0.5 s on screen)
MAX_PEAKS = 24_000  # longer clips get coarser columns: the JSON stays under ~150 kB
PEAK_LEVELS = 127  # peaks are sent as integers in [-127, 127] of the clip's own maximum (normalised)
SPEC_ROWS = 128  # frequency rows, linear from 0 to Nyquist
SPEC_MAX_COLUMNS = 1_600  # time columns (10 ms each up to 16 s; coarser beyond)
SPEC_RANGE_DB = 80.0
_ASSETS = Path(__file__).with_name("waveform_assets")


def peaks(wave: np.ndarray, n_columns: int) -> np.ndarray:
    """Min and max of each of `n_columns` equal runs of samples: shape (columns, 2), float32.

    What a waveform display draws per pixel column (a vertical stroke from min to max), so the
    browser never needs the samples. Fewer columns than asked when there are fewer samples.
    """
    wave = np.asarray(wave, dtype=np.float32).ravel()
    n = min(int(n_columns), wave.size)
    if n <= 0:
        return np.zeros((0, 2), dtype=np.float32)
    starts = np.linspace(0, wave.size, n + 1).astype(np.int64)[:-1]  # strictly increasing: n <= size
    return np.stack([np.minimum.reduceat(wave, starts), np.maximum.reduceat(wave, starts)], axis=1)


def quantised_peaks(wave: np.ndarray, rate: int) -> tuple[list[int], float]:
    """Peaks at `PEAKS_PER_S` (at most `MAX_PEAKS` columns), normalised to the clip's loudest sample and
    sent as small integers, interleaved [min0, max0, min1, max1, ...]; and the columns per second."""
    duration = wave.size / rate if rate else 0.0
    n = min(MAX_PEAKS, max(1, math.ceil(duration * PEAKS_PER_S)))
    pk = peaks(wave, n)
    if not len(pk):
        return [], 0.0
    scale = float(np.abs(pk).max()) or 1.0
    levels = np.clip(np.rint(pk / scale * PEAK_LEVELS), -PEAK_LEVELS, PEAK_LEVELS).astype(np.int16)
    return levels.ravel().tolist(), len(pk) / duration


def spectrogram_bytes(wave: np.ndarray, rate: int) -> dict[str, Any]:
    """A finer spectrogram than the chart's, as one byte per cell (0 = 80 dB below the loudest cell),
    rows from Nyquist (top) down to 0 Hz, base64-encoded."""
    spec = spectrogram_of(wave, rate, max_time_bins=SPEC_MAX_COLUMNS, n_freq_bins=SPEC_ROWS)
    db = spec.db  # [freq, time], already floored at max - 80 dB
    top = float(db.max())
    cells = np.clip((db - (top - SPEC_RANGE_DB)) / SPEC_RANGE_DB * 255.0, 0, 255).astype(np.uint8)[::-1]
    return {"rows": int(cells.shape[0]), "cols": int(cells.shape[1]), "nyquist_hz": float(spec.nyquist_hz),
            "b64": base64.b64encode(np.ascontiguousarray(cells).tobytes()).decode("ascii")}


def clip_picture(data: bytes) -> dict[str, Any]:
    """Everything the view draws of the clip itself (no model output): duration, peaks, spectrogram."""
    wave, rate = decode_mono(data)
    values, per_s = quantised_peaks(wave, rate)
    return {"duration_s": float(wave.size / rate) if rate else 0.0, "peaks": values, "peaks_per_s": per_s,
            "spectrogram": spectrogram_bytes(wave, rate) if wave.size else None}


def regions(segments: pd.DataFrame, shown: bool) -> list[dict[str, Any]]:
    """The model's windows as regions. Blind (`shown` False): times only, nothing of the model's output.

    `band_end_s` is where the next window starts (windows overlap), so the clickable chips tile the
    clip; a click plays the whole window, `start_s` to `end_s`.
    """
    out = []
    for s in segments.itertuples():
        r: dict[str, Any] = {"id": int(s.segment), "start_s": float(s.start_s), "end_s": float(s.end_s),
                             "band_end_s": float(s.band_end_s)}
        if shown:
            p = None if pd.isna(s.prob_bonafide) else round(float(s.prob_bonafide), 3)
            r |= {"prob_bonafide": p, "suspicious": bool(s.suspicious)}
        out.append(r)
    return out


@cache
def _component():  # type: ignore[no-untyped-def]
    """Registered once per process; the JS and CSS are static files of this package."""
    import streamlit as st

    return st.components.v2.component("voxguard_waveform", js=(_ASSETS / "waveform.js").read_text(),
                                      css=(_ASSETS / "waveform.css").read_text(), html='<div class="vg"></div>')


def render(picture: dict[str, Any], segments: pd.DataFrame, shown: bool, key: str) -> None:
    """Mount the view for one clip. It drives the page's first `<audio>` element (the clip's `st.audio`)."""
    _component()(key=key, data={**picture, "regions": regions(segments, shown), "blind": not shown},
                 height="content")
