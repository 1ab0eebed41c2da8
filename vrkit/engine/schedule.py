"""Learning-rate warm-up by doubling (Messina, Amato & Falchi, Re-implementing and extending Relation Network for
R-CBIR: lr doubled every 20 epochs from 1e-6 to 1e-4; docs/transfer.md) and cosine decay."""

from __future__ import annotations

import math


def warmup_lr(t: int, lr: float, start_lr: float | None, every: int) -> float:
    """Learning rate at time ``t`` (steps or epochs): ``min(lr, start_lr * 2 ** (t // every))``; ``lr`` if no
    warm-up (``start_lr`` None or >= ``lr``)."""
    if start_lr is None or start_lr >= lr:
        return lr
    return min(lr, start_lr * 2.0 ** (t // every))


def warmup_length(lr: float, start_lr: float | None, every: int) -> int:
    """Time units until the warm-up reaches ``lr`` (0 without warm-up)."""
    if start_lr is None or start_lr >= lr:
        return 0
    return every * math.ceil(math.log2(lr / start_lr) - 1e-12)


def decay_factor(step: int, max_steps: int, start: float, floor: float) -> float:
    """Cosine decay multiplier at ``step``: 1 before ``start * max_steps``, then down to ``floor`` at
    ``max_steps`` (and ``floor`` after it)."""
    first = start * max_steps
    if step <= first:
        return 1.0
    frac = min(1.0, (step - first) / max(1.0, max_steps - first))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))
