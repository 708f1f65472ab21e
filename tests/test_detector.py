"""One-call API: never raises on bad input, segments cover the whole file, verdicts make sense."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from fixtures_model import RATE, synthetic_clip

from siamese.detector import ClipResult, Detector

# Shared session fixtures (tiny trained package), registered once for the whole run.
pytest_plugins = ["fixtures_model"]


@pytest.fixture(scope="module")
def detector(tiny_package_path) -> Detector:
    return Detector.from_package(tiny_package_path, device="cpu")


def _wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV")
    return buffer.getvalue()


def _assert_error(result: ClipResult, code: str) -> None:
    assert result.error is not None and result.error.startswith(code), result.error
    assert result.score is None and result.label is None and result.segments == []


def test_bad_inputs_come_back_as_error_results(detector, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    flac = io.BytesIO()
    sf.write(flac, np.random.default_rng(0).normal(size=RATE * 2) * 0.1, RATE, format="FLAC")
    cases = {
        "not_audio": text,
        "empty": empty,
        "unreadable": tmp_path / "missing.wav",
        "undecodable": flac.getvalue()[: len(flac.getvalue()) // 2],
        "silent": _wav_bytes(np.zeros(RATE, dtype=np.float32)),
        "too_short": _wav_bytes(np.full(100, 0.5, dtype=np.float32)),
    }
    for code, source in cases.items():
        _assert_error(detector.score(source), code)
    _assert_error(detector.score(tmp_path), "unreadable")  # a directory
    _assert_error(detector.score(np.ones(RATE, dtype=np.float32)), "invalid_input")  # no sample_rate
    _assert_error(detector.score(np.full(RATE, np.nan, dtype=np.float32), sample_rate=RATE), "silent")


def test_duration_limit_is_an_error_result(tiny_package):
    limited = Detector(tiny_package, device="cpu", max_duration_s=2.0)
    _assert_error(limited.score(_wav_bytes(np.random.default_rng(0).normal(size=3 * RATE) * 0.1)), "too_large")


@pytest.mark.parametrize("seconds", [0.2, 1.0, 2.7, 7.3])
def test_segments_cover_the_whole_file(detector, seconds):
    wave = synthetic_clip(1, np.random.default_rng(1), seconds=seconds)
    result = detector.score(wave, sample_rate=RATE)
    assert result.error is None
    starts = np.array([s.start_s for s in result.segments])
    ends = np.array([s.end_s for s in result.segments])
    assert starts[0] == 0.0
    assert ends[-1] == pytest.approx(seconds, abs=1 / RATE)
    assert result.duration_s == pytest.approx(seconds, abs=1 / RATE)
    assert np.all(starts[1:] <= ends[:-1])  # no gaps between consecutive segments
    assert result.score == pytest.approx(np.mean([s.score for s in result.segments]))


def test_verdict_fields_are_consistent(detector, tiny_sets):
    for wave, label in zip(tiny_sets[2].waveforms[::3], tiny_sets[2].labels[::3], strict=True):
        result = detector.score(wave, sample_rate=RATE)
        assert result.label in {"bonafide", "spoof", "inconclusive"}
        assert 0.0 <= result.prob_bonafide <= 1.0
        assert result.confidence == pytest.approx(max(result.prob_bonafide, 1 - result.prob_bonafide))
        assert result.model_version == detector.version
        # The tiny model separates its synthetic classes.
        assert result.label == ("bonafide" if label == 1 else "spoof")


def test_path_bytes_and_array_score_the_same(detector, tmp_path):
    wave = synthetic_clip(0, np.random.default_rng(2), seconds=2.5)
    path = tmp_path / "clip.wav"
    sf.write(path, wave, RATE, subtype="FLOAT")
    by_path, by_bytes, by_array = detector.score(path), detector.score(path.read_bytes()), detector.score(wave, sample_rate=RATE)
    assert by_path.source == str(path) and by_bytes.source == "<memory>"
    assert by_path.score == pytest.approx(by_bytes.score, abs=1e-6)
    assert by_path.score == pytest.approx(by_array.score, abs=1e-6)


def test_stereo_48k_file_is_scored(detector, tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "stereo.wav"
    sf.write(path, rng.normal(size=(48000 * 2, 2)) * 0.1, 48000)
    result = detector.score(path)
    assert result.error is None and result.sample_rate == 48000 and result.channels == 2
    assert result.duration_s == pytest.approx(2.0)


def test_spliced_fake_is_flagged_and_located(detector):
    rng = np.random.default_rng(4)
    real, fake = synthetic_clip(1, rng, seconds=4.0), synthetic_clip(0, rng, seconds=2.0)
    result = detector.score(np.concatenate([real, fake]), sample_rate=RATE)
    assert result.flagged
    worst = min(result.segments, key=lambda s: s.score)
    assert worst.end_s > 4.0  # the most suspicious window overlaps the synthetic part


def test_enrolment_raises_scores_for_its_group_only(tiny_package):
    detector = Detector(tiny_package, device="cpu")
    rng = np.random.default_rng(5)
    reference = synthetic_clip(0, rng, seconds=2.0)
    before = detector.score(reference, sample_rate=RATE).score
    added = detector.enroll("alice", [_wav_bytes(reference)])
    assert added == 1 and tiny_package.enrolled["alice"].shape == (1, tiny_package.config.encoder.embedding_dim)
    # The same rule as `voxguard enroll`: one L2-normalised mean of the clip's window embeddings.
    decoded = detector.decode(_wav_bytes(reference)).waveform
    windows = detector.embed_windows(detector.windows(decoded).frames)
    mean = windows.mean(axis=0)
    np.testing.assert_allclose(tiny_package.enrolled["alice"][0], mean / np.linalg.norm(mean), rtol=1e-4, atol=1e-6)
    assert detector.score(reference, sample_rate=RATE, group="alice").score > before
    assert detector.score(reference, sample_rate=RATE, group="bob").score == pytest.approx(before)
    del tiny_package.enrolled["alice"]  # the package fixture is shared by the session
