"""Objectives: correct sign behaviour on hand-made embeddings, and each one decreases
when optimised on a toy problem."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamese.config import ComparisonConfig
from siamese.losses import BatchHardTripletLoss, ContrastiveLoss, OneClassSoftmaxLoss, make_objective
from siamese.network import ReferenceBank

torch.set_num_threads(1)  # see fixtures_model: threads spin on a busy 2-core machine
DIM = 8


def _bank(bona_axis: int = 0, spoof_axis: int = 1) -> ReferenceBank:
    bank = ReferenceBank(ComparisonConfig(n_bonafide_prototypes=1, n_spoof_prototypes=1), DIM)
    with torch.no_grad():
        bank.bonafide.copy_(F.one_hot(torch.tensor([bona_axis]), DIM).float())
        bank.spoof.copy_(F.one_hot(torch.tensor([spoof_axis]), DIM).float())
    return bank


def _clusters(spread: float, n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Bona fide around axis 0, spoof around axis 1; `spread` = noise level."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.cat([F.one_hot(torch.zeros(n, dtype=torch.long), DIM), F.one_hot(torch.ones(n, dtype=torch.long), DIM)]).float()
    embeddings = F.normalize(centres + spread * torch.randn(2 * n, DIM, generator=g), dim=-1)
    return embeddings, torch.tensor([1] * n + [0] * n)


@torch.no_grad()
def test_triplet_term_is_zero_when_well_separated():
    embeddings, labels = _clusters(spread=0.0)
    loss = BatchHardTripletLoss(margin=0.3, scale=10.0)
    # Identical points per class, orthogonal classes: hardest positive 0, hardest negative 1 > margin.
    prototype_only = F.binary_cross_entropy_with_logits(10.0 * _bank().score(embeddings), labels.float())
    assert float(loss(embeddings, labels, _bank())) == pytest.approx(float(prototype_only), abs=1e-6)


LN2 = 0.6931471805599453  # the prototype term with scale 0: BCE of logit 0


@torch.no_grad()
def test_triplet_term_is_positive_when_classes_overlap():
    embeddings, labels = _clusters(spread=0.0)
    mixed = torch.arange(len(labels)) % 2  # each cluster now holds both classes
    good = float(BatchHardTripletLoss(scale=0.0)(embeddings, labels, _bank())) - LN2
    bad = float(BatchHardTripletLoss(scale=0.0)(embeddings, mixed, _bank())) - LN2
    assert good == pytest.approx(0.0, abs=1e-6)
    assert bad > 0.5


@torch.no_grad()
def test_contrastive_prefers_correct_pairs():
    embeddings, labels = _clusters(spread=0.0)
    loss = ContrastiveLoss(margin=0.5, scale=0.0)
    assert float(loss(embeddings, labels, _bank())) - LN2 == pytest.approx(0.0, abs=1e-6)
    mixed = torch.arange(len(labels)) % 2  # each cluster now holds both classes
    assert float(loss(embeddings, mixed, _bank())) - LN2 > 0.1


@torch.no_grad()
def test_prototype_term_rewards_embeddings_at_the_right_prototype():
    embeddings, labels = _clusters(spread=0.05)
    right = ContrastiveLoss()(embeddings, labels, _bank(0, 1))
    wrong = ContrastiveLoss()(embeddings, labels, _bank(1, 0))  # prototypes swapped
    assert wrong > right + 1.0


@torch.no_grad()
def test_oneclass_sign_behaviour():
    embeddings, labels = _clusters(spread=0.0)
    loss = OneClassSoftmaxLoss()
    # Bona fide at the prototype (cos 1 > 0.9), spoof orthogonal (cos 0 < 0.2): small loss.
    assert loss(embeddings, labels, _bank()) < 0.2
    assert loss(embeddings, labels.flip(0), _bank()) > 5.0


@torch.no_grad()
def test_single_example_batch_does_not_crash():
    embeddings, labels = _clusters(spread=0.1, n=1)
    for kind in ("contrastive", "triplet", "oneclass"):
        value = make_objective(kind)(embeddings[:1], labels[:1], _bank())
        assert torch.isfinite(value)


def test_unknown_objective():
    with pytest.raises(ValueError):
        make_objective("arcface")


@pytest.mark.parametrize("kind", ["contrastive", "triplet", "oneclass"])
def test_each_objective_decreases_on_a_toy_problem(kind):
    """A linear embedder + bank trained with the objective on two separable Gaussian blobs."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(32, 4, generator=g) + 2.0, torch.randn(32, 4, generator=g) - 2.0])
    labels = torch.tensor([1] * 32 + [0] * 32)
    torch.manual_seed(0)
    embedder = torch.nn.Linear(4, DIM)
    bank = ReferenceBank(ComparisonConfig(), DIM)
    objective = make_objective(kind)
    optimiser = torch.optim.Adam(list(embedder.parameters()) + list(bank.parameters()), lr=0.05)
    losses = []
    for _ in range(60):
        value = objective(F.normalize(embedder(x), dim=-1), labels, bank)
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
        losses.append(float(value.detach()))
    assert losses[-1] < 0.5 * losses[0]
    # And the scorer it trained separates the classes.
    with torch.no_grad():
        scores = bank.score(F.normalize(embedder(x), dim=-1))
    assert scores[:32].min() > scores[32:].max()
