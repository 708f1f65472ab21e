"""Front-end, encoder, reference bank: shapes for every option, shared weights, L2 embeddings."""

from __future__ import annotations

import itertools

import pytest
import torch

from siamese.config import ModelConfig
from siamese.frontend import Frontend
from siamese.network import ScoringModule, SiameseNetwork

torch.set_num_threads(1)  # see fixtures_model: threads spin on a busy 2-core machine
BASE = ModelConfig().replace(audio={"window_s": 1.0, "hop_s": 0.5}, encoder={"channels": (8, 16, 32), "embedding_dim": 24})
SAMPLES = BASE.audio.window_samples


def _config(frontend: str = "loglinear", pooling: str = "attentive", comparison: str = "cosine") -> ModelConfig:
    return BASE.replace(frontend={"kind": frontend}, encoder={"pooling": pooling}, comparison={"kind": comparison})


def _waves(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, SAMPLES, generator=torch.Generator().manual_seed(seed)) * 0.1


@pytest.mark.parametrize(
    ("frontend", "expected_bins"), [("loglinear", 129), ("logmel", 80), ("lfcc", 60)]
)
def test_frontend_shapes(frontend, expected_bins):
    config = _config(frontend)
    features = Frontend(config.frontend, config.audio)(_waves(3))
    frames = SAMPLES // config.frontend.hop_length + 1
    assert features.shape == (3, 1, expected_bins, frames)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("frontend", ["loglinear", "logmel", "lfcc"])
def test_frontend_is_gain_invariant_and_normalised(frontend):
    config = _config(frontend)
    module = Frontend(config.frontend, config.audio)
    x = _waves(2)
    a, b = module(x), module(10.0 * x)
    # Exact up to the log floor, which only matters in near-empty bins (e.g. Nyquist).
    assert (a - b).abs().mean() < 1e-3
    assert (a - b).abs().max() < 0.1
    # Per-utterance normalisation: each bin has ~zero mean over time.
    assert a.mean(dim=-1).abs().max() < 1e-4


def test_feature_masking_only_while_training():
    config = BASE.replace(frontend={"time_masks": 2, "time_mask_width": 10, "feature_masks": 2, "feature_mask_width": 20})
    module = Frontend(config.frontend, config.audio)
    plain = Frontend(BASE.frontend, BASE.audio)
    x = _waves(8)
    torch.manual_seed(0)
    masked = module.train()(x)
    # Each clip draws its own masks: zeroed rows/frames differ between clips of one batch.
    zero_rows = (masked == 0).all(dim=-1).squeeze(1)
    zero_frames = (masked == 0).all(dim=-2).squeeze(1)
    assert zero_rows.any() and zero_frames.any()
    assert not all(torch.equal(zero_rows[0], r) and torch.equal(zero_frames[0], f) for r, f in zip(zero_rows[1:], zero_frames[1:]))
    # Outside the masks the features are untouched, and evaluation never masks.
    kept = masked != 0
    assert torch.equal(masked[kept], plain(x)[kept])
    assert torch.equal(module.eval()(x), plain.eval()(x))


def test_configs_written_before_masking_existed_still_load():
    data = BASE.to_dict()
    for key in ("time_masks", "time_mask_width", "feature_masks", "feature_mask_width"):
        del data["frontend"][key]
    assert ModelConfig.from_dict(data) == BASE


def test_unknown_frontend_is_refused():
    config = BASE.replace(frontend={"kind": "cqt"})
    with pytest.raises(ValueError):
        Frontend(config.frontend, config.audio)


@pytest.mark.parametrize(
    ("frontend", "pooling", "comparison"),
    # Every front-end x pooling, and every comparison (the three axes are independent modules).
    [(f, p, "cosine") for f, p in itertools.product(["loglinear", "logmel", "lfcc"], ["attentive", "mean"])]
    + [("loglinear", "attentive", c) for c in ("euclidean", "mahalanobis")],
)
def test_network_shapes_for_every_option(frontend, pooling, comparison):
    network = SiameseNetwork(_config(frontend, pooling, comparison)).eval()
    with torch.no_grad():
        embeddings = network(_waves(4))
        scores = network.score(_waves(4))
        scoring = ScoringModule(network)(_waves(4))
    assert embeddings.shape == (4, 24)
    assert scores.shape == (4,) and torch.isfinite(scores).all()
    torch.testing.assert_close(scoring, scores)
    # Embeddings are L2-normalised whatever the options.
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(4), atol=1e-5, rtol=0)


def test_branches_share_weights():
    """A Siamese pair is one module applied twice: both branches' gradients land in the same tensors."""
    network = SiameseNetwork(_config()).train()
    a, b = _waves(2, seed=1), _waves(2, seed=2)
    ea, eb = network(a), network(b)
    (1 - (ea * eb).sum(dim=-1)).mean().backward()
    first_conv = network.encoder.blocks[0].layers[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    # Only one copy of the encoder exists.
    convs = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == len(BASE.encoder.channels)


def test_eval_embedding_does_not_depend_on_batch_mates():
    network = SiameseNetwork(_config()).eval()
    a, b = _waves(1, seed=1), _waves(1, seed=2)
    with torch.no_grad():
        together = network(torch.cat([a, b]))
        torch.testing.assert_close(together[0], network(a)[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(together[1], network(b)[0], atol=1e-5, rtol=1e-5)


def test_cosine_score_is_bonafide_minus_spoof_similarity():
    network = SiameseNetwork(_config()).eval()
    bank = network.bank
    e = torch.nn.functional.normalize(torch.randn(5, 24), dim=-1)
    bona = (e @ torch.nn.functional.normalize(bank.bonafide, dim=-1).T).max(dim=1).values
    spoof = (e @ torch.nn.functional.normalize(bank.spoof, dim=-1).T).max(dim=1).values
    torch.testing.assert_close(bank.score(e), bona - spoof)
    # An embedding at the bona fide prototype scores higher than one at a spoof prototype.
    at_bona = torch.nn.functional.normalize(bank.bonafide[:1], dim=-1)
    at_spoof = torch.nn.functional.normalize(bank.spoof[:1], dim=-1)
    assert bank.score(at_bona) > bank.score(at_spoof)


@pytest.mark.parametrize("comparison", ["cosine", "euclidean", "mahalanobis"])
def test_enrolled_references_only_add_bonafide_evidence(comparison):
    network = SiameseNetwork(_config(comparison=comparison)).eval()
    e = torch.nn.functional.normalize(torch.randn(6, 24), dim=-1)
    base = network.bank.score(e)
    enrolled = network.bank.score(e, enrolled=e[:2].clone())
    assert torch.all(enrolled >= base - 1e-6)
    assert torch.all(enrolled[:2] > base[:2])  # a clip identical to an enrolled one gains
    torch.testing.assert_close(network.bank.score(e, enrolled=torch.zeros(0, 24)), base)


def test_mahalanobis_precision_fit():
    network = SiameseNetwork(_config(comparison="mahalanobis"))
    samples = torch.randn(200, 24) * torch.linspace(0.1, 2.0, 24)
    network.bank.fit_precision(samples, shrinkage=0.0)
    cov = torch.cov(samples.T)
    torch.testing.assert_close(network.bank.precision @ cov, torch.eye(24), atol=1e-3, rtol=1e-3)


def test_no_spoof_prototypes_scores_bonafide_similarity_only():
    network = SiameseNetwork(BASE.replace(comparison={"n_spoof_prototypes": 0})).eval()
    with torch.no_grad():
        scores = network.score(_waves(3))
    assert scores.shape == (3,) and torch.all(scores <= 1.0 + 1e-6)


def test_mean_stats_pooling_matches_torch_std_and_keeps_gradients_finite() -> None:
    """The two-pass std equals torch.std (clamped at 1e-6), and a constant row (a dead ReLU
    channel) must not make the gradients NaN: sqrt's derivative at 0 is infinite."""
    from siamese.encoder import MeanStatsPooling

    x = torch.randn(2, 4, 50) * 3 + 1
    x[:, 1, :] = 0.0
    x.requires_grad_(True)
    pooled = MeanStatsPooling()(x)
    expected = torch.cat([x.mean(dim=-1), x.std(dim=-1).clamp_min(1e-6)], dim=1)
    assert torch.allclose(pooled, expected, atol=1e-5)
    pooled.sum().backward()
    assert torch.isfinite(x.grad).all()
