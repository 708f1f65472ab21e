"""Champion/challenger gate: decides whether a retrained model may be promoted.

Two conditions, both required:
1. *Not worse on the fixed gate set*: the challenger's EER on the gate set is at
   most the champion's plus `tolerance` (absolute).
2. *Better on held-back feedback*: on verified feedback clips that the challenger
   did not train on, it makes strictly more correct decisions than the champion,
   or as many with a lower cross-entropy of its calibrated probabilities (by at
   least `min_ce_gain` relative), so a promotion always has evidence behind it.
Pure functions over scores: the retraining job computes the inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from siamese import metrics


@dataclass(frozen=True)
class ModelEvidence:
    """One model's outputs on the gate set and on the held-back feedback clips."""

    gate_scores: np.ndarray
    gate_labels: np.ndarray  # 1 = bona fide, 0 = spoof
    heldback_decisions: np.ndarray  # "bonafide" | "spoof" | "inconclusive"
    heldback_prob_bonafide: np.ndarray
    heldback_labels: np.ndarray


@dataclass(frozen=True)
class GateDecision:
    """The verdict and the numbers behind it (stored with the retraining run)."""

    promote: bool
    reason: str
    champion_gate_eer: float
    challenger_gate_eer: float
    champion_heldback_correct: int
    challenger_heldback_correct: int
    champion_heldback_ce: float
    challenger_heldback_ce: float
    n_gate: int
    n_heldback: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _correct(decisions: np.ndarray, labels: np.ndarray) -> int:
    truth = np.where(np.asarray(labels) == 1, "bonafide", "spoof")
    return int(np.sum(np.asarray(decisions) == truth))


def _cross_entropy(prob_bonafide: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(np.asarray(prob_bonafide, dtype=np.float64), 1e-6, 1 - 1e-6)
    y = np.asarray(labels)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log(1 - p)))) if len(y) else float("nan")


def decide(
    champion: ModelEvidence,
    challenger: ModelEvidence,
    tolerance: float = 0.01,
    min_heldback: int = 2,
    min_ce_gain: float = 0.01,
) -> GateDecision:
    """Apply the two gate conditions (see module docstring)."""
    champion_eer, _ = metrics.eer(champion.gate_scores, champion.gate_labels)
    challenger_eer, _ = metrics.eer(challenger.gate_scores, challenger.gate_labels)
    n_heldback = len(challenger.heldback_labels)
    champ_ok = _correct(champion.heldback_decisions, champion.heldback_labels)
    chall_ok = _correct(challenger.heldback_decisions, challenger.heldback_labels)
    champ_ce = _cross_entropy(champion.heldback_prob_bonafide, champion.heldback_labels)
    chall_ce = _cross_entropy(challenger.heldback_prob_bonafide, challenger.heldback_labels)

    if challenger_eer > champion_eer + tolerance:
        promote, reason = False, (
            f"worse on the gate set: EER {challenger_eer:.3f} > champion {champion_eer:.3f} + {tolerance:.3f}"
        )
    elif n_heldback < min_heldback:
        promote, reason = False, f"only {n_heldback} held-back feedback clips (need {min_heldback}) to show improvement"
    elif chall_ok > champ_ok:
        promote, reason = True, f"held-back feedback: {chall_ok}/{n_heldback} correct vs champion {champ_ok}/{n_heldback}"
    elif chall_ok == champ_ok and chall_ce < champ_ce * (1 - min_ce_gain):
        promote, reason = True, (
            f"held-back feedback: as many correct ({chall_ok}/{n_heldback}), cross-entropy "
            f"{chall_ce:.3f} < {champ_ce:.3f}"
        )
    else:
        promote, reason = False, (
            f"no improvement on held-back feedback: {chall_ok}/{n_heldback} correct (champion {champ_ok}), "
            f"cross-entropy {chall_ce:.3f} (champion {champ_ce:.3f})"
        )
    return GateDecision(
        promote=promote,
        reason=reason,
        champion_gate_eer=float(champion_eer),
        challenger_gate_eer=float(challenger_eer),
        champion_heldback_correct=champ_ok,
        challenger_heldback_correct=chall_ok,
        champion_heldback_ce=champ_ce,
        challenger_heldback_ce=chall_ce,
        n_gate=int(len(challenger.gate_labels)),
        n_heldback=int(n_heldback),
    )
