"""Training objectives over embeddings. labels: 1 = bona fide, 0 = spoof.

Every objective also trains the reference bank: the Siamese metric term shapes
the embedding space, the prototype term places the prototypes the scorer uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from siamese.network import ReferenceBank


def _prototype_term(embeddings: torch.Tensor, labels: torch.Tensor, bank: ReferenceBank, scale: float) -> torch.Tensor:
    """Binary cross-entropy on the scorer's own raw score, so training optimises what serving uses."""
    return F.binary_cross_entropy_with_logits(scale * bank.score(embeddings), labels.float())


class ContrastiveLoss(nn.Module):
    """Classic Siamese pair loss over all pairs of the batch (cosine distance), plus the prototype term."""

    def __init__(self, margin: float = 0.5, scale: float = 10.0) -> None:
        super().__init__()
        self.margin, self.scale = margin, scale

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, bank: ReferenceBank) -> torch.Tensor:
        distance = 1.0 - embeddings @ embeddings.T
        same = labels[:, None] == labels[None, :]
        off_diagonal = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positive = distance.pow(2)[same & off_diagonal]
        negative = F.relu(self.margin - distance).pow(2)[~same]
        pair_loss = torch.cat([positive, negative]).mean() if len(labels) > 1 else distance.sum() * 0
        return pair_loss + _prototype_term(embeddings, labels, bank, self.scale)


class BatchHardTripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017), plus the prototype term."""

    def __init__(self, margin: float = 0.3, scale: float = 10.0) -> None:
        super().__init__()
        self.margin, self.scale = margin, scale

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, bank: ReferenceBank) -> torch.Tensor:
        distance = 1.0 - embeddings @ embeddings.T
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        hardest_positive = distance.masked_fill(~same | eye, float("-inf")).max(dim=1).values
        hardest_negative = distance.masked_fill(same, float("inf")).min(dim=1).values
        valid = torch.isfinite(hardest_positive) & torch.isfinite(hardest_negative)
        triplet = F.relu(hardest_positive - hardest_negative + self.margin)[valid]
        triplet_loss = triplet.mean() if triplet.numel() else distance.sum() * 0
        return triplet_loss + _prototype_term(embeddings, labels, bank, self.scale)


class OneClassSoftmaxLoss(nn.Module):
    """OC-softmax (Zhang et al. 2021): bona fide compact around the prototype, spoof pushed beyond a margin."""

    def __init__(self, margin_real: float = 0.9, margin_fake: float = 0.2, alpha: float = 20.0) -> None:
        super().__init__()
        self.margin_real, self.margin_fake, self.alpha = margin_real, margin_fake, alpha

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, bank: ReferenceBank) -> torch.Tensor:
        similarity = bank.similarity(embeddings, bank.bonafide).max(dim=1).values
        is_real = labels.bool()
        margins = torch.where(is_real, self.margin_real - similarity, similarity - self.margin_fake)
        return F.softplus(self.alpha * margins).mean()


def make_objective(kind: str) -> nn.Module:
    """Objective by name: 'contrastive', 'triplet' or 'oneclass'."""
    objectives = {"contrastive": ContrastiveLoss, "triplet": BatchHardTripletLoss, "oneclass": OneClassSoftmaxLoss}
    if kind not in objectives:
        raise ValueError(f"unknown objective {kind!r}; choose from {sorted(objectives)}")
    return objectives[kind]()
