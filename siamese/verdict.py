"""From window scores to a clip's verdict, without the network.

Why a module of its own: turning per-window scores into a label needs only the
package's calibration and operating point. A driver that regroups window scores
computed elsewhere (the Ray scoring job) must not build the network, whose
Whisper front-end alone is ~30 MB of weights, to apply two small rules.
`Detector.aggregate` and the scoring job's driver both call `VerdictRule.aggregate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from siamese.calibration import Calibration, OperatingPoint


@dataclass(frozen=True)
class Segment:
    """Score of one window of the clip (seconds from the start)."""

    start_s: float
    end_s: float
    score: float
    prob_bonafide: float


@dataclass
class ClipResult:
    """Verdict for one clip; `error` is set (and scores are None) when it could not be scored."""

    source: str
    model_version: str
    score: float | None = None
    prob_bonafide: float | None = None
    label: str | None = None  # bonafide | spoof | inconclusive
    confidence: float | None = None
    flagged: bool | None = None
    segments: list[Segment] = field(default_factory=list)
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (segments as dicts) for tables, JSON and Parquet."""
        return asdict(self)


class _AudioFacts(Protocol):
    duration_s: float
    source_sample_rate: int
    channels: int


class _HasVerdictParts(Protocol):
    version: str
    calibration: Calibration
    operating_point: OperatingPoint


@dataclass(frozen=True)
class VerdictRule:
    """A model version's calibration and operating point: all a clip verdict needs."""

    version: str
    calibration: Calibration
    operating_point: OperatingPoint

    @classmethod
    def of(cls, package: _HasVerdictParts) -> "VerdictRule":
        """The rule of a `ModelPackage` or a `PackageMeta` (both carry the three fields)."""
        return cls(package.version, package.calibration, package.operating_point)

    def aggregate(
        self,
        source: str,
        window_scores: np.ndarray,
        starts_s: np.ndarray,
        ends_s: np.ndarray,
        audio: _AudioFacts | None = None,
    ) -> ClipResult:
        """Turn per-window scores into the clip verdict (mean score; every window kept as a segment)."""
        calibration, point = self.calibration, self.operating_point
        clip_score = float(np.mean(window_scores))
        prob = float(calibration.prob_bonafide(np.array([clip_score]))[0])
        label = str(point.decide(clip_score))
        window_probs = calibration.prob_bonafide(np.asarray(window_scores, dtype=np.float64))
        segments = [
            Segment(float(s), float(e), float(w), float(p))
            for s, e, w, p in zip(starts_s, ends_s, window_scores, window_probs, strict=True)
        ]
        # A partly synthetic recording: any confidently spoof-looking segment sends it to review.
        any_spoof_segment = bool(np.any(np.asarray(window_scores) < point.abstain_low))
        return ClipResult(
            source=source,
            model_version=self.version,
            score=clip_score,
            prob_bonafide=prob,
            label=label,
            confidence=float(max(prob, 1.0 - prob)),
            flagged=label != "bonafide" or any_spoof_segment,
            segments=segments,
            duration_s=audio.duration_s if audio else None,
            sample_rate=audio.source_sample_rate if audio else None,
            channels=audio.channels if audio else None,
        )
