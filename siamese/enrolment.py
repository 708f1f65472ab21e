"""The one enrolment rule: a verified bona fide clip becomes one reference embedding.

Why one mean per clip rather than every window: a reference bank is compared with
`max` similarity, so a long clip enrolled window by window would outvote short ones
and make its bank grow with its length; one L2-normalised mean per clip gives every
verified clip one equal vote and a bank the size of the number of clips. Used by
`Detector.enroll` (the Python API) and `jobs.enroll` (the `voxguard enroll` command).
"""

from __future__ import annotations

import numpy as np


def clip_reference(window_embeddings: np.ndarray) -> np.ndarray:
    """One reference [E] from a clip's window embeddings [n, E]: their mean, L2-normalised."""
    embeddings = np.asarray(window_embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) == 0:
        raise ValueError("a clip reference needs at least one window embedding")
    centre = embeddings.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-8)
    return centre.astype(np.float32)
