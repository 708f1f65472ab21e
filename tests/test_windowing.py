"""Windowing: every sample is covered, the tail is scored, short clips are repeat-padded."""

from __future__ import annotations

import numpy as np
import pytest

from siamese.config import AudioConfig
from siamese.windowing import make_windows, pad_window, plan_pieces, window_starts

CONFIG = AudioConfig(window_s=4.0, hop_s=2.0)
W, H, R = CONFIG.window_samples, CONFIG.hop_samples, CONFIG.sample_rate


@pytest.mark.parametrize("n", [W, W + 1, W + H - 1, W + H, W + H + 1, 3 * W + 12345, 10 * R * 60])
def test_windows_cover_every_sample(n):
    starts = window_starts(n, W, H)
    covered = np.zeros(n, dtype=bool)
    for s in starts:
        assert 0 <= s and s + W <= n
        covered[s : s + W] = True
    assert covered.all()
    assert starts[0] == 0 and starts[-1] + W == n  # the tail window is flush with the end
    assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= H)


def test_window_count_and_tail_alignment():
    n = 10 * R + 1234  # 10.08 s: regular starts 0,2,4,6 then a tail window at n - W
    windows = make_windows(np.arange(n, dtype=np.float32), CONFIG)
    assert len(windows) == 5
    np.testing.assert_allclose(windows.starts_s[:4], [0, 2, 4, 6])
    assert windows.ends_s[-1] == pytest.approx(n / R)
    # Frames are the waveform itself at those offsets.
    np.testing.assert_array_equal(windows.frames[-1], np.arange(n - W, n, dtype=np.float32))
    np.testing.assert_array_equal(windows.frames[1], np.arange(2 * R, 2 * R + W, dtype=np.float32))


def test_exact_multiple_has_no_duplicate_tail():
    n = W + 3 * H
    assert len(make_windows(np.ones(n, dtype=np.float32), CONFIG)) == 4


def test_exactly_one_window():
    windows = make_windows(np.ones(W, dtype=np.float32), CONFIG)
    assert len(windows) == 1 and windows.ends_s[0] == pytest.approx(4.0)


def test_short_clip_is_padded_by_repetition():
    wave = np.arange(1, 3201, dtype=np.float32)  # 0.2 s
    windows = make_windows(wave, CONFIG)
    assert windows.frames.shape == (1, W)
    # Repetition, not zeros: the frame is the clip over and over, cut at W.
    np.testing.assert_array_equal(windows.frames[0], np.tile(wave, W // 3200 + 1)[:W])
    assert not np.any(windows.frames == 0)
    # The segment reports the real extent of the audio, not the padded one.
    assert windows.starts_s[0] == 0 and windows.ends_s[0] == pytest.approx(0.2)


def test_padding_with_non_divisible_length():
    wave = np.random.default_rng(0).normal(size=7001).astype(np.float32)
    frame = make_windows(wave, CONFIG).frames[0]
    np.testing.assert_array_equal(frame[:7001], wave)
    np.testing.assert_array_equal(frame[7001:14002], wave)


def test_ten_minutes_window_count():
    n = 600 * R
    windows = make_windows(np.zeros(n, dtype=np.float32), CONFIG)
    assert len(windows) == (n - W) // H + 1 == 299
    assert windows.frames.dtype == np.float32 and windows.frames.flags.c_contiguous


def test_frames_are_independent_copies():
    wave = np.ones(3 * W, dtype=np.float32)
    windows = make_windows(wave, CONFIG)
    windows.frames[0, 0] = 5.0
    assert wave[0] == 1.0 and windows.frames[1, 0] == 1.0


def test_custom_window_and_hop():
    config = AudioConfig(window_s=1.0, hop_s=0.25)
    windows = make_windows(np.zeros(2 * config.sample_rate, dtype=np.float32), config)
    np.testing.assert_allclose(windows.starts_s, np.arange(0, 1.01, 0.25))


def test_empty_waveform_is_refused():
    with pytest.raises(ValueError):
        make_windows(np.zeros(0, dtype=np.float32), CONFIG)


@pytest.mark.parametrize("n", [R // 2, W, W + 1, 3 * W + 12345, 10 * R * 60])
@pytest.mark.parametrize("per_piece", [1, 3, 64])
def test_pieces_hold_the_windows_make_windows_cuts(n, per_piece):
    """The scoring job's pieces (`plan_pieces` + `pad_window`) rebuild exactly `make_windows`' frames."""
    wave = np.random.default_rng(n).normal(size=n).astype(np.float32)
    expected = make_windows(wave, CONFIG)
    frames, starts = [], []
    for lo, hi, piece_starts in plan_pieces(n, CONFIG, per_piece):
        assert len(piece_starts) <= per_piece and hi - lo <= (per_piece - 1) * H + W
        for start in piece_starts:
            frames.append(pad_window(wave[lo:hi][start - lo : start - lo + W], W))
            starts.append(start)
    np.testing.assert_array_equal(np.stack(frames), expected.frames)
    np.testing.assert_allclose(np.asarray(starts) / R, expected.starts_s)


def test_pad_window_repeats_a_short_clip_and_leaves_a_full_one():
    short = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(pad_window(short, 7), [0, 1, 2, 0, 1, 2, 0])
    full = np.arange(7, dtype=np.float32)
    assert pad_window(full, 7) is full
    with pytest.raises(ValueError):
        pad_window(np.zeros(0, np.float32), 7)
