"""Instant adaptation: enroll verified bona fide clips into a group's reference bank.

A group names a population the model should treat as known-real (a phone line,
a studio, a speaker). Enrolled embeddings are stored in the feedback database
per model version and added to the Siamese reference bank of the next scoring
run that names the group (`voxguard score --group`), before any retraining.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from feedback.db import session_scope
from feedback.enrollment import enroll, reference_bank, verified_bonafide_uris
from siamese.detector import Detector
from siamese.package import ModelPackage
from voxguard.storage import StorageOptions, read_bytes


def enroll_clips(
    sessions: sessionmaker[Session],
    package: ModelPackage,
    group: str,
    uris: Sequence[str] | None = None,
    actor: str = "system",
    s3: StorageOptions | None = None,
) -> int:
    """Embed `uris` (default: every verified bona fide clip) with `package` and store them; returns the count.

    Only clips that reviewers verified as bona fide are accepted. `sessions` is the
    command's session factory on a migrated database.
    """
    detector = Detector(package, device="cpu")
    with session_scope(sessions) as session:
        chosen = list(uris) if uris else verified_bonafide_uris(session)
    count = 0
    for uri in chosen:
        # One reference per clip (`siamese.enrolment.clip_reference`), as `Detector.enroll` does.
        centre = detector.embed_clip(read_bytes(uri, s3))
        with session_scope(sessions) as session:
            enroll(session, group, uri, centre, detector.version, actor=actor)
        count += 1
    return count


def group_bank(sessions: sessionmaker[Session], model_version: str, group: str) -> np.ndarray | None:
    """The enrolled references of `group` for `model_version` (None when there are none)."""
    with session_scope(sessions) as session:
        bank = reference_bank(session, model_version, group)
    references = bank.get(group)
    return references if references is not None and len(references) else None
