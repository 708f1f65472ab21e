"""Instant adaptation: enroll verified bona fide clips into a group's reference bank.

A group names a population the model should treat as known-real (a phone line,
a studio, a speaker). Enrolled embeddings are stored in the feedback database
per model version and added to the Siamese reference bank of the next scoring
run that names the group (`voxguard score --group`), before any retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from feedback.db import session_factory, session_scope, upgrade
from feedback.enrollment import enroll, reference_bank, verified_bonafide_uris
from jobs.model_source import resolve_model
from jobs.score.storage import S3Options, read_bytes
from siamese.detector import Detector
from voxguard.settings import Settings


def enroll_clips(
    settings: Settings,
    group: str,
    uris: Sequence[str] | None = None,
    model: str | Path | None = None,
    actor: str = "system",
) -> int:
    """Embed `uris` (default: every verified bona fide clip) with the model and store them; returns the count.

    Only clips that reviewers verified as bona fide are accepted.
    """
    upgrade(settings.database_url)
    factory = session_factory(settings.database_url)
    detector = Detector.from_package(resolve_model(settings, model), device="cpu")
    s3 = S3Options(settings.s3_endpoint, settings.s3_region)
    with session_scope(factory) as session:
        chosen = list(uris) if uris else verified_bonafide_uris(session)
    count = 0
    for uri in chosen:
        audio = detector.decode(read_bytes(uri, s3))
        embeddings = detector.embed_windows(detector.windows(audio.waveform).frames)
        # One reference per clip: the normalised mean embedding of its windows.
        centre = embeddings.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-8)
        with session_scope(factory) as session:
            enroll(session, group, uri, centre, detector.version, actor=actor)
        count += 1
    return count


def group_bank(settings: Settings, model_version: str, group: str) -> np.ndarray | None:
    """The enrolled references of `group` for `model_version` (None when there are none)."""
    factory = session_factory(settings.database_url)
    with session_scope(factory) as session:
        bank = reference_bank(session, model_version, group)
    references = bank.get(group)
    return references if references is not None and len(references) else None
