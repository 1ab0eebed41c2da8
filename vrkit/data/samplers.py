"""Answer-balanced sampling for COG file datasets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def balanced_weights(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-item weights inverse to the frequency of the item's label, normalised to sum 1: float64 (n,).

    Every distinct label is a class, including -1 (items without a word answer, e.g. pointing families), so
    each class gets the same total probability.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError("labels must be a non-empty 1-D sequence")
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w / w.sum()


class AnswerBalancedSampler(Sampler[int]):
    """Draws ``num_samples`` indices (default: all) with replacement, weighted by :func:`balanced_weights`.

    Labels are usually ``CogFileDataset.answer_labels()`` (the last valid word answer). The draw is
    deterministic for (seed, epoch); call :meth:`set_epoch` to get a new draw each epoch.
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, num_samples: int | None = None,
                 seed: int = 0) -> None:
        self.weights = balanced_weights(labels)
        self.num_samples = len(self.weights) if num_samples is None else int(num_samples)
        if self.num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {self.num_samples}")
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        idx = rng.choice(len(self.weights), size=self.num_samples, replace=True, p=self.weights)
        return iter(idx.tolist())
