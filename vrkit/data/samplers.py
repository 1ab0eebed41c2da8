"""Answer-balanced sampling weights for COG file datasets (training draws with them through
``vrkit.engine.data.EpochSampler``'s weighted mode)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
