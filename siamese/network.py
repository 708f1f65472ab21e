"""The Siamese network: front-end -> shared CNN encoder -> embedding, scored
against a reference bank of bona fide (and spoof) prototypes.

Both branches of a Siamese pair are the same module applied twice (shared
weights by construction). A clip window's raw score is its similarity to the
closest bona fide reference minus its similarity to the closest spoof
prototype: higher means more bona fide.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from siamese.config import ComparisonConfig, ModelConfig
from siamese.encoder import Encoder
from siamese.frontends import build_frontend


class ReferenceBank(nn.Module):
    """Learned prototypes plus optional enrolled bona fide references, and the comparison rule."""

    def __init__(self, config: ComparisonConfig, dim: int) -> None:
        super().__init__()
        self.kind = config.kind
        self.bonafide = nn.Parameter(torch.randn(config.n_bonafide_prototypes, dim) * 0.1)
        self.spoof = nn.Parameter(torch.randn(config.n_spoof_prototypes, dim) * 0.1)
        # Inverse covariance for the Mahalanobis comparison, fitted after training.
        self.register_buffer("precision", torch.eye(dim))

    @property
    def has_spoof(self) -> bool:
        return self.spoof.shape[0] > 0

    def similarity(self, embeddings: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """[B, E] x [K, E] -> [B, K]; higher = closer, whatever the comparison."""
        if self.kind == "cosine":
            return embeddings @ F.normalize(references, dim=-1).T
        if self.kind == "euclidean":
            # Prototypes are not normalised, so distance differs from cosine ranking.
            return -torch.cdist(embeddings, references)
        if self.kind == "mahalanobis":
            diff = embeddings[:, None, :] - F.normalize(references, dim=-1)[None, :, :]
            return -torch.einsum("bke,ef,bkf->bk", diff, self.precision, diff)
        raise ValueError(f"unknown comparison {self.kind!r}")

    def score(self, embeddings: torch.Tensor, enrolled: torch.Tensor | None = None) -> torch.Tensor:
        """Raw score per embedding: closest bona fide reference minus closest spoof prototype."""
        bona = self.similarity(embeddings, self.bonafide).max(dim=1).values
        if enrolled is not None and enrolled.shape[0] > 0:
            # Enrolled references are verified real clips: they can only add evidence of bona fide.
            enrolled_sim = self.similarity(embeddings, enrolled).max(dim=1).values
            bona = torch.maximum(bona, enrolled_sim)
        if not self.has_spoof:
            return bona
        return bona - self.similarity(embeddings, self.spoof).max(dim=1).values

    @torch.no_grad()
    def fit_precision(self, bonafide_embeddings: torch.Tensor, shrinkage: float = 0.1) -> None:
        """Fit the Mahalanobis precision from bona fide embeddings (shrunk towards identity)."""
        centred = bonafide_embeddings - bonafide_embeddings.mean(dim=0, keepdim=True)
        cov = centred.T @ centred / max(len(centred) - 1, 1)
        eye = torch.eye(cov.shape[0], device=cov.device)
        scale = torch.trace(cov) / cov.shape[0]
        self.precision.copy_(torch.linalg.inv((1 - shrinkage) * cov + shrinkage * scale * eye))


class SiameseNetwork(nn.Module):
    """Waveform windows [B, samples] -> embeddings [B, E]; `score` compares them to the bank."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.frontend = build_frontend(config.frontend, config.audio)
        with torch.no_grad():
            n_bins = self.frontend(torch.randn(1, config.audio.window_samples)).shape[2]
        self.encoder = Encoder(config.encoder, n_bins)
        self.bank = ReferenceBank(config.comparison, config.encoder.embedding_dim)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.frontend(waveforms))

    def score(self, waveforms: torch.Tensor, enrolled: torch.Tensor | None = None) -> torch.Tensor:
        """Raw bona fide score per window."""
        return self.bank.score(self.forward(waveforms), enrolled)


class ScoringModule(nn.Module):
    """Waveform -> raw score, a single-input module for TorchScript/ONNX export and quantisation."""

    def __init__(self, network: SiameseNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.network.bank.score(self.network(waveforms))
