"""CATER datamodule for pretraining: generated videos (fresh every epoch unless ``pool_epochs``), generated in
DataLoader workers or loaded from a pool on disk.

Training epoch e reads videos 0..train_n-1 of epoch e (with ``pool_epochs`` P > 0: of epoch e mod P) of the
stream seeded ``seed·1000 + 17`` (the split salts of :data:`vrkit.engine.data.SPLIT_SALT`, as the COG
datamodule); validation always reads epoch 0 of its own seed, so it is the same videos at every evaluation.
Items are a pure function of (seed, epoch, index): a run resumed from an end-of-epoch checkpoint sees the videos
an uninterrupted run would, with any number of workers.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from vrkit.data.cater import CaterStream, collate_cater
from vrkit.engine.data import SPLIT_SALT


def split_seed(seed: int, split: str) -> int:
    """The stream seed of ``split`` in a run of ``seed`` (every world's datamodule uses this rule)."""
    return seed * 1000 + 17 + SPLIT_SALT[split]


class CaterDataModule(L.LightningDataModule):
    """Train/val loaders over :class:`CaterStream` s (module docstring). ``world``: ``CaterConfig`` fields;
    ``state``: also load the per-frame visible-object sets (the supervised pretraining objectives need them);
    ``source``: replaces the world's generator and state path (tests; :class:`vrkit.data.cater.WorldSource`);
    ``pool``: a directory caching the training videos on disk; ``pool_epochs`` P > 0: training epoch e reads the
    videos of epoch e mod P (:class:`~vrkit.data.cater.CaterStream`)."""

    def __init__(self, world: dict[str, Any], train_n: int, val_n: int, batch_size: int, workers: int = 0,
                 seed: int = 0, state: bool = False, source: Any = None, pool: str | None = None,
                 pool_epochs: int = 0) -> None:
        super().__init__()
        self.batch_size, self.workers = batch_size, workers
        self.train = CaterStream(train_n, split_seed(seed, "train"), world, state, source, pool, pool_epochs)
        self.val = CaterStream(val_n, split_seed(seed, "val"), world, state, source) if val_n else None

    def _loader(self, ds: CaterStream) -> DataLoader:
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, num_workers=self.workers,
                          collate_fn=collate_cater, persistent_workers=False)

    def train_dataloader(self, epoch: int | None = None) -> DataLoader:
        if epoch is None:
            epoch = 0 if self.trainer is None else self.trainer.current_epoch
        self.train.set_epoch(epoch)
        return self._loader(self.train)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val is None else self._loader(self.val)
