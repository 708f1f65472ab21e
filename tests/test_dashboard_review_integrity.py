"""The review page plays only the audio that was scored (issue 15): a changed file is refused, no verdict."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from dashboard_support import app_as, query
from feedback.db import session_factory, upgrade
from feedback_helpers import row, scored_items


@pytest.fixture
def scored_clip(tmp_path, monkeypatch):
    """A real WAV scored with its sha256 (as the scoring job records it); returns (db url, path)."""
    clip = tmp_path / "audio" / "clip.wav"
    clip.parent.mkdir()
    sf.write(clip, (np.random.default_rng(1).normal(size=16000) * 0.1).astype(np.float32), 16000)
    url = f"sqlite:///{tmp_path / 'integrity.db'}"
    upgrade(url)
    factory = session_factory(url)
    scored = row(str(clip), confidence=0.5) | {"fingerprint": "sha256:" + hashlib.sha256(clip.read_bytes()).hexdigest()}
    scored_items(factory, [scored, row(str(tmp_path / "audio" / "other.wav"), confidence=0.9)])
    factory.kw["bind"].dispose()
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(tmp_path / "audio"))
    return url, clip


def test_the_scored_audio_is_played_and_can_be_judged(scored_clip):
    at = app_as("alice")
    assert not at.exception and not at.error
    assert len(at.get("audio")) == 1
    assert not at.button(key="verdict_spoof").disabled


def test_audio_replaced_since_scoring_is_not_played_and_takes_no_verdict(scored_clip):
    url, clip = scored_clip
    sf.write(clip, np.zeros(16000, np.float32) + 0.2, 16000)  # someone swaps the file after scoring
    at = app_as("alice")
    assert not at.exception
    assert "changed since it was scored" in at.error[0].value
    assert not at.get("audio")
    for verdict in ("bonafide", "spoof", "unsure"):
        assert at.button(key=f"verdict_{verdict}").disabled
    assert query(url, "select count(*) from reviews") == [(0,)]
