"""Pretraining on generated CATER videos: typed config and the LightningModule (docs/ivcl.md).

Objectives (``objective``):

* ``mae`` — IV-CL: masked patch reconstruction through slot tokens and the temporal transformer
  (``model.temporal: false`` is the image-only ablation);
* ``attributes`` — supervised per-frame attribute presence (the image-classification analogue);
* ``sets`` — supervised set prediction of each frame's visible objects with Hungarian matching (the detection
  analogue).

The two supervised objectives train IV-CL's per-frame encoder (no temporal transformer) with a head of
:mod:`vrkit.models.ivcl_heads`. YAML layout (``vrkit/configs/cater/ivcl_cpu.yaml``)::

    seed: 0
    objective: mae
    model: {preset: cpu, mask_ratio: 0.75, ...}     # preset + IVCLConfig fields (image_size = data.image_size)
    data: {image_size: 64, frames: 16, train_n: 2048, val_n: 32, batch_size: 16, workers: 1, world: {...}}
    optim: {lr: 1e-3, weight_decay: 0.05, warmup_steps: 100, clip: 1.0}
    trainer: {max_epochs: 100, max_steps: -1, max_minutes: 20, precision: fp32, log_every_n_steps: 10}
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import yaml
from torch import Tensor

from vrkit.engine._typecheck import build_dataclass
from vrkit.engine.config import apply_overrides
from vrkit.errors import InputError

OBJECTIVES = ("mae", "attributes", "sets")


@dataclass
class PretrainData:
    image_size: int = 64
    frames: int = 16
    train_n: int = 2048  # fresh videos per epoch
    val_n: int = 32  # fixed validation videos (0 = none)
    batch_size: int = 16
    workers: int = 1  # DataLoader processes generating videos (0 = in the training process)
    world: dict[str, Any] = field(default_factory=dict)  # further CaterConfig fields (camera, objects, ...)
    pool: str | None = None  # directory caching the training videos on disk, shared by runs of the same stream
    pool_epochs: int = 0  # P > 0: epoch e reads the videos of epoch e mod P (a fixed set of P x train_n); 0: fresh


@dataclass
class PretrainOptim:
    lr: float = 1e-3  # AdamW, betas (0.9, 0.95) as MAE
    weight_decay: float = 0.05
    warmup_steps: int = 100  # linear warm-up from 0, then constant
    clip: float | None = 1.0  # gradient norm


@dataclass
class PretrainTrainer:
    max_epochs: int = 100
    max_steps: int = -1
    max_minutes: float | None = 20.0
    precision: Literal["fp32", "bf16"] = "fp32"
    log_every_n_steps: int = 10


@dataclass
class PretrainConfig:
    seed: int = 0
    objective: Literal["mae", "attributes", "sets"] = "mae"
    model: dict[str, Any] = field(default_factory=lambda: {"preset": "cpu"})
    data: PretrainData = field(default_factory=PretrainData)
    optim: PretrainOptim = field(default_factory=PretrainOptim)
    trainer: PretrainTrainer = field(default_factory=PretrainTrainer)

    def world(self) -> dict[str, Any]:
        """The ``CaterConfig`` fields of this run's videos."""
        return {"size": self.data.image_size, "frames": self.data.frames, **self.data.world}


# Values a resumed run may change (budgets and bookkeeping).
RESUME_ALLOWED = frozenset({"trainer.max_epochs", "trainer.max_steps", "trainer.max_minutes", "data.workers",
                            "trainer.log_every_n_steps", "data.pool"})  # a pool holds the videos a run generates


def model_config(cfg: PretrainConfig) -> Any:
    """The :class:`~vrkit.models.ivcl.IVCLConfig` of a run (ValueError/TypeError/KeyError on bad fields)."""
    from vrkit.models.ivcl import ivcl_config

    opts = dict(cfg.model)
    preset = opts.pop("preset", "cpu")
    opts["image_size"] = cfg.data.image_size
    if cfg.objective != "mae":
        opts["temporal"] = False  # supervised per-frame pretraining has no temporal transformer
    return ivcl_config(preset, **opts)


def from_tree(tree: dict[str, Any], where: str) -> PretrainConfig:
    """A checked :class:`PretrainConfig`; InputError naming ``where`` on bad input."""
    try:
        cfg = build_dataclass(PretrainConfig, tree)
        model_config(cfg)
        for key, value, low in (("data.train_n", cfg.data.train_n, 1), ("data.val_n", cfg.data.val_n, 0),
                                ("data.batch_size", cfg.data.batch_size, 1), ("data.workers", cfg.data.workers, 0),
                                ("data.frames", cfg.data.frames, 1), ("optim.warmup_steps", cfg.optim.warmup_steps, 0),
                                ("data.pool_epochs", cfg.data.pool_epochs, 0)):
            if value < low:
                raise ValueError(f"{key} must be >= {low}, got {value}")
        if cfg.optim.lr <= 0 or (cfg.trainer.max_minutes is not None and cfg.trainer.max_minutes <= 0):
            raise ValueError("optim.lr and trainer.max_minutes must be > 0")
    except (TypeError, ValueError, KeyError) as err:
        raise InputError(str(err.args[0] if isinstance(err, KeyError) else err), where) from None
    return cfg


def load_pretrain_config(path: str | Path, overrides: list[str] | None = None) -> PretrainConfig:
    """Read a YAML pretraining recipe, apply ``key.sub=value`` overrides, check everything."""
    try:
        tree = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise InputError(f"cannot read config ({err.strerror})", path) from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"invalid YAML ({str(err).splitlines()[0]})", path) from None
    if not isinstance(tree, dict):
        raise InputError("a config file must hold a mapping", path)
    return from_tree(apply_overrides(tree, list(overrides or [])), str(path))


def to_tree(cfg: PretrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _seed_of(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:7], "little")


class PretrainTask(L.LightningModule):
    """One pretraining objective on IV-CL's encoder (module docstring); ``self.model`` is the :class:`IVCL`.
    ``sizes`` (the supervised objectives): the world's state sizes, ``features``, ``attributes`` and
    ``max_objects`` (:meth:`vrkit.data.cater.WorldSource.sizes`)."""

    def __init__(self, config: dict[str, Any], sizes: dict[str, int] | None = None) -> None:
        super().__init__()
        from vrkit.models.ivcl import IVCL
        from vrkit.models.ivcl_heads import AttributeHead, SetHead

        self.save_hyperparameters({"config": config, "sizes": sizes})
        self.cfg = from_tree(config, "<pretrain config>")
        self.model = IVCL(model_config(self.cfg))
        c = self.model.config
        if self.cfg.objective != "mae":
            self.model.drop_decoder()
            if sizes is None:
                raise ValueError(f"objective {self.cfg.objective} needs the world's state sizes")
        self.head = None
        if self.cfg.objective == "attributes":
            self.head = AttributeHead(c.dim, sizes["attributes"])
        elif self.cfg.objective == "sets":
            self.head = SetHead(c.dim, c.heads, sizes["max_objects"], sizes["features"])
        self.last_summary: dict[str, Any] = {}  # read by vrkit.engine.run.save_final_weights

    def loss(self, batch: dict[str, Tensor], generator: torch.Generator | None = None) -> Tensor:
        from vrkit.data.cater import frames_float
        from vrkit.models.ivcl_heads import AttributeHead, SetHead

        frames = frames_float(batch["frames"])
        if self.cfg.objective == "mae":
            return self.model(frames, generator=generator)["loss"]
        slots, patches = self.model.encode(frames)
        if self.cfg.objective == "attributes":
            return AttributeHead.loss(self.head(slots), batch["attributes"])
        exist, pred = self.head(torch.cat([slots, patches], dim=2))
        return SetHead.loss(exist, pred, batch["objects"], batch["object_mask"])

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss.detach(), on_step=True, on_epoch=True, batch_size=batch["frames"].shape[0],
                 prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        g = torch.Generator().manual_seed(batch_idx)  # the same masks at every evaluation
        self.log("val/loss", self.loss(batch, g), on_epoch=True, batch_size=batch["frames"].shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return torch.optim.AdamW(self.parameters(), lr=self._lr(), betas=(0.9, 0.95), weight_decay=o.weight_decay)

    def _lr(self) -> float:
        o = self.cfg.optim
        return o.lr * min(1.0, (self.global_step + 1) / o.warmup_steps) if o.warmup_steps else o.lr

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # masks and dropout draw from a generator seeded by (seed, step): a resumed run repeats an uninterrupted one
        torch.manual_seed(_seed_of(self.cfg.seed, self.global_step))
        lr = self._lr()
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        self.log("lr", lr, on_step=True, on_epoch=False, batch_size=1)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        for logger in self.loggers:  # metrics.csv holds everything up to the checkpoint after a kill -9
            logger.save()
