"""Balanced batches: half each class; groups drawn uniformly within a class."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from siamese.sampler import BalancedBatchSampler


def _imbalanced() -> tuple[list[int], list[str]]:
    # 900 spoof clips from one big generator, 10 from a small one; 50 bona fide from 2 speakers.
    labels = [0] * 900 + [0] * 10 + [1] * 45 + [1] * 5
    groups = ["big"] * 900 + ["small"] * 10 + ["spk_a"] * 45 + ["spk_b"] * 5
    return labels, groups


def test_every_batch_is_half_bonafide():
    labels, groups = _imbalanced()
    sampler = BalancedBatchSampler(labels, groups, batch_size=16, batches_per_epoch=50, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50
    for batch in batches:
        assert len(batch) == 16
        assert sum(labels[i] for i in batch) == 8


def test_odd_batch_size_rounds_spoof_up():
    labels, groups = _imbalanced()
    batch = next(iter(BalancedBatchSampler(labels, groups, batch_size=7, seed=0)))
    assert sum(labels[i] for i in batch) == 3 and len(batch) == 7


def test_groups_are_drawn_uniformly_within_a_class():
    labels, groups = _imbalanced()
    sampler = BalancedBatchSampler(labels, groups, batch_size=32, batches_per_epoch=200, seed=2)
    counts = Counter(groups[i] for batch in sampler for i in batch)
    # 16 spoof per batch x 200 batches = 3200 draws, split ~evenly between generators
    # despite a 90:1 imbalance in clips; same for the two speakers.
    assert counts["small"] / 3200 == pytest.approx(0.5, abs=0.05)
    assert counts["spk_b"] / 3200 == pytest.approx(0.5, abs=0.05)


def test_seed_makes_batches_reproducible_and_different_seeds_differ():
    labels, groups = _imbalanced()
    a = list(BalancedBatchSampler(labels, groups, 16, 5, seed=3))
    b = list(BalancedBatchSampler(labels, groups, 16, 5, seed=3))
    c = list(BalancedBatchSampler(labels, groups, 16, 5, seed=4))
    assert a == b and a != c


def test_default_epoch_length_and_valid_indices():
    labels, groups = _imbalanced()
    sampler = BalancedBatchSampler(labels, groups, batch_size=32)
    assert len(sampler) == len(labels) // 32
    indices = np.concatenate([np.array(b) for b in sampler])
    assert indices.min() >= 0 and indices.max() < len(labels)


def test_refuses_a_missing_class_or_tiny_batch():
    with pytest.raises(ValueError):
        BalancedBatchSampler([1, 1, 1], ["a", "b", "c"], batch_size=2)
    with pytest.raises(ValueError):
        BalancedBatchSampler([0, 1], ["a", "b"], batch_size=1)
    with pytest.raises(ValueError):  # labels and groups must line up
        BalancedBatchSampler([0, 1, 1], ["a", "b"], batch_size=2)
