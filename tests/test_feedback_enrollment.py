"""Enrollment of verified bona fide embeddings into per-group reference banks."""

from __future__ import annotations

import numpy as np
import pytest
from feedback_helpers import row, scored_items, verdict

from feedback.db import make_engine, session_factory, session_scope
from feedback.enrollment import enroll, list_enrollments, reference_bank, remove_enrollment, verified_bonafide_uris


def test_enroll_only_verified_bonafide(db_url: str) -> None:
    engine = make_engine(db_url)
    f = session_factory(engine)
    ids = scored_items(f, [row("spk1/a.wav"), row("spk1/b.wav"), row("spk2/c.wav")])
    verdict(f, ids["spk1/a.wav"], "ann", "bonafide")
    verdict(f, ids["spk2/c.wav"], "ann", "bonafide")
    verdict(f, ids["spk1/b.wav"], "ann", "spoof")
    rng = np.random.default_rng(0)
    with session_scope(f) as s:
        assert set(verified_bonafide_uris(s)) == {"spk1/a.wav", "spk2/c.wav"}
        enroll(s, "spk1", "spk1/a.wav", rng.normal(size=16), "v1", actor="ann")
        enroll(s, "spk1", "spk1/a.wav", np.ones(16), "v1")  # re-enrolling replaces
        enroll(s, "spk2", "spk2/c.wav", rng.normal(size=16), "v1")
        with pytest.raises(ValueError):
            enroll(s, "spk1", "spk1/b.wav", np.ones(16), "v1")  # verified spoof
        with pytest.raises(ValueError):
            enroll(s, "spk1", "spk2/c.wav", np.array([np.nan]), "v1")
    with session_scope(f) as s:
        bank = reference_bank(s, "v1")
        assert set(bank) == {"spk1", "spk2"} and bank["spk1"].shape == (1, 16)
        assert bank["spk1"].dtype == np.float32 and np.all(bank["spk1"] == 1.0)
        assert reference_bank(s, "v2") == {}
        remove_enrollment(s, list_enrollments(s, "spk2")[0].id)
    with f() as s:
        assert set(reference_bank(s, "v1")) == {"spk1"}
    engine.dispose()
