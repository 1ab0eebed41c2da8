"""World-agnostic data plumbing: epoch-seeded samplers, the batch-size schedule (the world → datamodule table
is :mod:`vrkit.engine.recipe`).

Determinism and resume: every epoch's sample order is a pure function of (seed, epoch, rank, world size), so
a run resumed from an end-of-epoch checkpoint sees exactly the batches an uninterrupted run would. Sharding
over distributed ranks is done here (Lightning's distributed sampler is switched off).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from torch.utils.data import Sampler

if TYPE_CHECKING:  # names for annotations only: config.py calls check_data_config, so no import back at run time
    pass

# A generated source without its own seed draws from the run seed: seed·1000 + 17 + the split's salt, so the
# three splits of one run are different examples (every world's datamodule uses this one table).
SPLIT_SALT = {"train": 0, "val": 1, "test": 2}

def batch_size_at(epoch: int, batch_size: int, double_every: int | None, batch_max: int | None) -> int:
    """Increasing batch size (Messina et al., R-CBIR; docs/transfer.md): ``batch_size * 2 ** (epoch //
    double_every)``, capped at ``batch_max``."""
    if not double_every:
        return batch_size
    bs = batch_size * 2 ** (epoch // double_every)
    return min(bs, batch_max) if batch_max else bs


class EpochSampler(Sampler[int]):
    """Indices of one epoch for one rank: a pure function of (seed, epoch, rank, world).

    * ``shuffle``: the epoch covers positions ``[epoch * S, (epoch + 1) * S)`` of an endless concatenation of
      permutations of ``range(n)`` (permutation c seeded by (seed, c)); S = ``num_samples`` (default n).
    * ``weights``: S draws with replacement from the weights, seeded by (seed, epoch) (answer balancing).
    * neither: ``range(S)`` (modulo n).
    Rank r of W takes every W-th index starting at r; every rank gets S // W indices (the rest is dropped
    when ``drop_last``, else ranks take ceil with the first ones wrapping).
    """

    def __init__(self, n: int, epoch: int = 0, seed: int = 0, shuffle: bool = False,
                 num_samples: int | None = None, weights: np.ndarray | None = None,
                 rank: int = 0, world: int = 1, drop_last: bool = True) -> None:
        if n < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.n, self.epoch, self.seed, self.shuffle = n, int(epoch), int(seed), shuffle
        self.num_samples = n if num_samples is None else int(num_samples)
        self.weights, self.rank, self.world, self.drop_last = weights, rank, world, drop_last

    def _global(self) -> np.ndarray:
        S, n = self.num_samples, self.n
        if self.weights is not None:
            rng = np.random.default_rng([self.seed, self.epoch, 7])
            return rng.choice(n, size=S, replace=True, p=self.weights)
        if not self.shuffle:
            return np.arange(S) % n
        start = self.epoch * S
        out, pos = [], start
        while pos < start + S:
            cycle, off = divmod(pos, n)
            perm = np.random.default_rng([self.seed, cycle, 3]).permutation(n)
            take = perm[off: off + (start + S - pos)]
            out.append(take)
            pos += len(take)
        return np.concatenate(out)

    def indices(self) -> np.ndarray:
        idx = self._global()
        if self.world == 1:
            return idx
        per = len(idx) // self.world if self.drop_last else -(-len(idx) // self.world)
        if not self.drop_last and len(idx) % self.world:
            idx = np.concatenate([idx, idx[: per * self.world - len(idx)]])
        return idx[self.rank:: self.world][:per]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return len(self.indices()) if self.world > 1 else self.num_samples


class UnevenShardSampler(Sampler[int]):
    """Evaluation order: ``range(n)`` split over ranks without padding (every item counted exactly once)."""

    def __init__(self, n: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.rank, self.world = n, rank, world

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))
