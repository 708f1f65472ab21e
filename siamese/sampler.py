"""Balanced batches: half bona fide, half spoof; within each class, groups
(speakers for bona fide, generators for spoof) are drawn uniformly so a
generator with 10 clips weighs as much as one with 1,000."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np


class BalancedBatchSampler:
    """Yields lists of indices; `len()` is the number of batches per epoch."""

    def __init__(
        self,
        labels: Sequence[int],
        groups: Sequence[str],
        batch_size: int,
        batches_per_epoch: int | None = None,
        seed: int = 0,
    ) -> None:
        if batch_size < 2:
            raise ValueError("batch_size must be at least 2 (one per class)")
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.by_class: dict[int, dict[str, list[int]]] = {0: defaultdict(list), 1: defaultdict(list)}
        for index, (label, group) in enumerate(zip(labels, groups, strict=True)):
            self.by_class[int(label)][str(group)].append(index)
        for label in (0, 1):
            if not self.by_class[label]:
                raise ValueError(f"no examples of class {label} (1 = bona fide, 0 = spoof)")
        self.batches_per_epoch = batches_per_epoch or max(1, len(labels) // batch_size)

    def __len__(self) -> int:
        return self.batches_per_epoch

    def _draw(self, label: int, count: int) -> list[int]:
        groups = list(self.by_class[label].values())
        picks = self.rng.integers(0, len(groups), size=count)
        return [int(self.rng.choice(groups[g])) for g in picks]

    def __iter__(self) -> Iterator[list[int]]:
        half = self.batch_size // 2
        for _ in range(self.batches_per_epoch):
            batch = self._draw(1, half) + self._draw(0, self.batch_size - half)
            self.rng.shuffle(batch)
            yield batch
