"""World-agnostic datamodule base: a world (COG, CLEVR, ...) implements how to check and build a dataset.

A subclass provides:

* ``FAMILY_NAMES`` (index = the batch's ``family`` value), ``GROUPS`` (name → family names), ``ANSWER_VOCAB``;
* the checks behind ``check_config(cfg)`` and ``check_source(src, key)`` (the latter for one source; used by
  ``vrkit eval``), each raising ``ValueError``/``InputError``: ``check_world(cfg)`` (the world's names and
  sizes in ``cfg``), ``check_variant(variant, key)``, ``check_families(names)``, ``check_files(src, key)``
  (the paths of a files source exist), ``FILES_SOURCE`` (what those paths must name), and optionally
  ``check_stream(src, key)`` and ``check_split(cfg, split, src)``;
* ``make_dataset(src, split)`` → a map-style ``Dataset`` of items for ``collate``. A generated source is an
  :class:`EpochDataset` (``set_epoch``): items are a pure function of (seed, epoch, index);
* ``collate`` (staticmethod) → the batch contract (docs/architecture.md, 'The batch');
* ``io_config()`` (staticmethod) → the model IO fields the world's batches need (vocabulary, answers, object
  features, pointing), stated once in the world's data module (``vrkit.data.cog.io_config``, ...); the run
  engine sizes every model from it (:func:`vrkit.engine.module.model_kwargs`);
* ``answer_labels(ds)`` → one label per item for answer-balanced sampling (files sources).

The base class turns them into train/val/test loaders: epoch-seeded samplers sharded over ranks, the
increasing batch-size schedule, answer balancing (see :mod:`vrkit.engine.data`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from vrkit.engine.config import DataConfig, OptimConfig, SourceConfig
from vrkit.engine.data import EpochSampler, UnevenShardSampler, batch_size_at
from vrkit.errors import InputError


@runtime_checkable
class EpochDataset(Protocol):
    """A generated, random-access source: ``set_epoch(e)`` selects the examples of epoch e."""

    def set_epoch(self, epoch: int) -> None: ...

    def __len__(self) -> int: ...


class WorldDataModule(L.LightningDataModule):
    """Train / val / test loaders over :class:`SourceConfig` sources; see the module docstring."""

    FAMILY_NAMES: ClassVar[Sequence[str]] = ()
    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {}
    ANSWER_VOCAB: ClassVar[Sequence[str]] = ()
    collate: ClassVar[Callable[[Sequence[dict]], dict]]

    def __init__(self, cfg: DataConfig, optim: OptimConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.cfg, self.optim, self.seed = cfg, optim or OptimConfig(), seed
        self._datasets: dict[str, Dataset] = {}

    # -- to implement ------------------------------------------------------------------------------------
    @staticmethod
    def io_config() -> dict[str, Any]:  # pragma: no cover
        """The model IO fields this world's batches need (vocab_size, num_answers, object_features, pointing)."""
        raise NotImplementedError

    FILES_SOURCE: ClassVar[str] = ""  # what a files source's paths must name, for the error message

    # The world's checks (module docstring), raising ValueError/InputError: its own fields of a config
    # (families, variant, sizes), a variant name under a key, family names, the paths of a files source.
    check_world: ClassVar[Callable[[DataConfig], Any]]
    check_variant: ClassVar[Callable[[str, str], Any]]
    check_families: ClassVar[Callable[[Any], Any]]
    check_files: ClassVar[Callable[[SourceConfig, str], Any]]

    @staticmethod
    def check_stream(src: SourceConfig, key: str) -> None:
        """World-specific checks of a generated source (n >= 1 is checked already)."""

    @staticmethod
    def check_split(cfg: DataConfig, split: str, src: SourceConfig) -> None:
        """World-specific checks of the source of ``split`` in the context of the whole ``cfg``."""

    def make_dataset(self, src: SourceConfig, split: str) -> Dataset:  # pragma: no cover
        raise NotImplementedError

    def answer_labels(self, ds: Dataset) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------------
    @classmethod
    def check_config(cls, cfg: DataConfig) -> None:
        """The world's fields of ``cfg``, then each of its sources (train, val, test)."""
        cls.check_world(cfg)
        for split in ("train", "val", "test"):
            src = getattr(cfg, split)
            if src is not None:
                cls.check_source(src, f"data.{split}")
                cls.check_split(cfg, split, src)

    @classmethod
    def check_source(cls, src: SourceConfig, key: str) -> None:
        """One source, named ``key`` in messages: its variant and families, then its size or paths."""
        if src.variant is not None:
            cls.check_variant(src.variant, f"{key}.variant")
        if src.families is not None:
            cls.check_families(src.families)
        if src.kind == "stream":
            if src.n is None or src.n < 1:
                raise ValueError(f"{key}.n: a generated source needs n >= 1 examples")
            cls.check_stream(src, key)
        else:
            if not src.paths:
                raise ValueError(f"{key}.paths: a files source needs {cls.FILES_SOURCE}")
            cls.check_files(src, key)

    def dataset(self, split: str) -> Dataset:
        if split not in self._datasets:
            src = getattr(self.cfg, split)
            if src is None:
                raise InputError(f"data.{split} is not configured")
            self._datasets[split] = self.make_dataset(src, split)
        return self._datasets[split]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.dataset("train")
        if stage in (None, "fit", "validate") and self.cfg.val is not None:
            self.dataset("val")
        if stage in (None, "test") and self.cfg.test is not None:
            self.dataset("test")

    def _rank_world(self) -> tuple[int, int]:
        t = self.trainer
        return (0, 1) if t is None else (t.global_rank, t.world_size)

    def loader(self, ds: Dataset, sampler: Any, batch_size: int) -> DataLoader:
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=type(self).collate,
                          num_workers=self.cfg.workers, drop_last=False)

    def train_dataloader(self, epoch: int | None = None) -> DataLoader:
        if epoch is None:
            epoch = 0 if self.trainer is None else self.trainer.current_epoch
        ds = self.dataset("train")
        src, o = self.cfg.train, self.optim
        rank, world = self._rank_world()
        if isinstance(ds, EpochDataset):
            ds.set_epoch(epoch)
            sampler = EpochSampler(len(ds), epoch, self.seed, shuffle=False, rank=rank, world=world)
        else:
            weights = None
            if o.answer_balanced:
                from vrkit.data import balanced_weights

                weights = balanced_weights(self.answer_labels(ds))
            sampler = EpochSampler(len(ds), epoch, self.seed, shuffle=True, num_samples=src.n, weights=weights,
                                   rank=rank, world=world)
        bs = batch_size_at(epoch, self.cfg.batch_size, o.batch_double_every, o.batch_max)
        return self.loader(ds, sampler, bs)

    def eval_loader(self, ds: Dataset, batch_size: int | None = None) -> DataLoader:
        """Every item once, in order, split over ranks."""
        rank, world = self._rank_world()
        return self.loader(ds, UnevenShardSampler(len(ds), rank, world),
                           batch_size or self.cfg.eval_batch_size or self.cfg.batch_size)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.cfg.val is None else self.eval_loader(self.dataset("val"))

    def test_dataloader(self) -> DataLoader | list:
        return [] if self.cfg.test is None else self.eval_loader(self.dataset("test"))
