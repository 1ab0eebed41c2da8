"""COG datamodule: official files or a seeded generated stream, for training, validation and testing.

A generated source is random-access: example k of epoch e is ``generate_example(families[k % F], variant,
make_rng(seed, "data", e, k))`` (the :class:`vrkit.data.CogStreamDataset` rule), so training batches are a
pure function of (seed, epoch) and resume is exact. Validation/test streams always use epoch 0 of their own
seed, so they are the same examples at every evaluation.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from vrkit.data import CogFileDataset, CogStreamDataset, collate_cog, encode_example
from vrkit.data.cog import io_config as cog_io_config
from vrkit.engine.config import DataConfig, OptimConfig, SourceConfig
from vrkit.engine.data import SPLIT_SALT as _SPLIT_SALT
from vrkit.engine.datamodules.base import WorldDataModule
from vrkit.worlds.cog.constants import (
    FAMILIES,
    GROUPS,
    OUTPUT_VOCAB,
    resolve_families,
)


class StreamMap(Dataset):
    """Map-style view of a generated stream: item k = encoded example k of the current epoch (module docstring)."""

    def __init__(self, stream: CogStreamDataset, epoch: int = 0) -> None:
        self.stream = stream
        self.stream.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        s = self.stream
        return encode_example(s.example(int(k)), s.path, s.image_size, s.max_objects, s.pixel_norm)


def _check_variant(name: str, key: str) -> None:
    """ValueError naming ``key`` for an unknown COG variant (``canonical``, ``hard``, ``canonical-A`` ...)."""
    from vrkit.worlds.cog.combos import variant_named

    try:
        variant_named(name)
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from None


def _check_files(src: SourceConfig, key: str) -> None:
    from vrkit.worlds.cog.io import expand_paths

    expand_paths(src.paths)  # InputError naming a missing path


class CogDataModule(WorldDataModule):
    """COG sources: official files (:class:`CogFileDataset`) or generated streams (:class:`StreamMap`)."""

    FAMILY_NAMES: ClassVar[tuple[str, ...]] = FAMILIES
    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = GROUPS
    ANSWER_VOCAB: ClassVar[tuple[str, ...]] = tuple(OUTPUT_VOCAB)
    collate = staticmethod(collate_cog)
    FILES_SOURCE: ClassVar[str] = "at least one path"

    def __init__(self, cfg: DataConfig, optim: OptimConfig | None = None, seed: int = 0) -> None:
        super().__init__(cfg, optim, seed)
        self.families = resolve_families(cfg.families)

    io_config = staticmethod(cog_io_config)  # 79 words, 55 answers, 55 object features, 7x7 pointing

    @staticmethod
    def check_world(cfg: DataConfig) -> None:
        resolve_families(cfg.families)
        _check_variant(cfg.variant, "data.variant")

    check_variant = staticmethod(_check_variant)
    check_families = staticmethod(resolve_families)
    check_files = staticmethod(_check_files)

    def make_dataset(self, src: SourceConfig, split: str) -> Dataset:
        cfg = self.cfg
        fams = self.families if src.families is None else resolve_families(src.families)
        if src.kind == "files":
            return CogFileDataset(src.paths, path=cfg.path, image_size=cfg.image_size,
                                  max_objects=cfg.max_objects, families=fams)
        seed = src.seed if src.seed is not None else self.seed * 1000 + 17 + _SPLIT_SALT[split]
        stream = CogStreamDataset(src.variant or cfg.variant, fams, seed=seed, path=cfg.path,
                                  length=src.n, image_size=cfg.image_size, max_objects=cfg.max_objects)
        return StreamMap(stream)

    def answer_labels(self, ds: Dataset) -> np.ndarray:
        return ds.answer_labels()
