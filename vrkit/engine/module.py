"""The LightningModule wrapping any registered reasoning model (:class:`ReasoningTask`).

The task is built from the resolved config tree (``vrkit.engine.config.to_dict``), which it stores as its
hyper-parameters, so a checkpoint alone rebuilds the model (``ReasoningTask.load_from_checkpoint``).
Logged: ``train/loss`` (+ answer/point parts), ``train/acc``, ``lr``, ``batch_size``; ``val/loss``,
``val/acc`` (mean over families), ``val/frames_acc``, ``val/group/<G>``, ``val/family/<F>``; same for ``test/``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import lightning as L
import torch
from torch import Tensor

from vrkit.engine.checkpoint_format import FORMAT_KEY, MODEL_FORMAT
from vrkit.engine.config import TrainConfig, from_dict
from vrkit.engine.metrics import FamilyAccuracy, frame_correct, frame_losses, summarize
from vrkit.engine.recipe import check_data_config, datamodule_class
from vrkit.engine.schedule import decay_factor, warmup_lr
from vrkit.errors import TrainingDiverged


def model_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Keyword config of the model: the path and the IO sizes its world's batches need (the datamodule's
    ``io_config``: vocabulary, answers, object features, pointing), the model's ``WORLD_DEFAULTS`` for the
    world, the data's image size, then the recipe's ``model.*`` fields (a recipe may pin an IO size, as the
    Relation Network's paper recipe pins the reference's vocabulary)."""
    import dataclasses

    from vrkit.models.registry import get_model_class

    cls = get_model_class(cfg.model.name)
    known = {f.name for f in dataclasses.fields(cls.Config)}
    kw: dict[str, Any] = {"path": cfg.data.path, **datamodule_class(cfg.data.world).io_config()}
    kw.update(getattr(cls, "WORLD_DEFAULTS", {}).get(cfg.data.world, {}))  # a model's per-world options
    if cfg.data.path == "pixels":
        kw["image_size"] = cfg.data.image_size
    if "channels_last" in known:
        kw["channels_last"] = cfg.trainer.channels_last
    kw.update(cfg.model.options)
    return {k: v for k, v in kw.items() if k in known}


def build_run_model(cfg: TrainConfig) -> torch.nn.Module:
    """The model a run trains, built exactly as ``vrkit train`` builds it (benchmarks use this too): the
    registered model with :func:`model_kwargs`, its parameters in channels-last format on the pixel path
    when ``trainer.channels_last`` (the default: 1.4× fp32 and 1.8× bf16 for SAMNet's CNN on CPU)."""
    from vrkit.models.registry import build_model

    model = build_model(cfg.model.name, **model_kwargs(cfg))
    if cfg.trainer.channels_last and cfg.data.path == "pixels":
        model = model.to(memory_format=torch.channels_last)
    return model


def _seed_of(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:7], "little")


class ReasoningTask(L.LightningModule):
    """Training/evaluation of ``build_model(config.model)`` with the COG losses and metrics."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg: TrainConfig = from_dict(_without_paths(config))
        check_data_config(self.cfg.data)
        self.model = build_run_model(self.cfg)
        dm = datamodule_class(self.cfg.data.world)
        self.family_names: list[str] = list(dm.FAMILY_NAMES)
        self.groups: dict[str, tuple[str, ...]] = dict(dm.GROUPS)
        n = len(self.family_names)
        self.train_acc, self.val_acc, self.test_acc = FamilyAccuracy(n), FamilyAccuracy(n), FamilyAccuracy(n)
        self.last_summary: dict[str, dict[str, Any]] = {}
        self.origin: dict[str, Any] | None = None  # where converted weights came from (vrkit.engine.convert)
        self.skipped_steps = 0  # steps skipped for non-finite gradients (on_before_optimizer_step)
        self._consecutive_skips = 0
        self._skip_step = False

    # -- forward -------------------------------------------------------------------------------------
    def prepare(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.cfg.optim.reverse_question:
            batch = dict(batch)
            batch["question"] = self.model.invert_question(batch["question"], batch["question_len"])
        return batch

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        return self.model(self.prepare(batch), trace=trace)

    def _shared(self, batch: dict[str, Tensor], metric: FamilyAccuracy) -> dict[str, Tensor]:
        out = self(batch)
        losses = frame_losses(out, batch, self.cfg.optim.point_weight)
        correct, valid = frame_correct(out, batch)
        metric.update(correct, valid, batch["family"])
        return losses

    # -- steps ---------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        losses = self._shared(batch, self.train_acc)
        B = batch["answer"].shape[0]
        for k, v in losses.items():
            self.log(f"train/{k}", v.detach(), on_step=True, on_epoch=True, batch_size=B,
                     prog_bar=(k == "loss"))
        self.log("batch_size", float(B), on_step=True, on_epoch=False, batch_size=B)
        return losses["loss"]

    def on_train_epoch_end(self) -> None:
        s = summarize(self.train_acc.compute(), self.family_names, self.groups)
        self.train_acc.reset()
        self.log("train/acc", s["frames_acc"], sync_dist=False)
        self.last_summary["train"] = s

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        losses = self._shared(batch, self.val_acc)
        self.log("val/loss", losses["loss"], on_epoch=True, batch_size=batch["answer"].shape[0], sync_dist=True)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        losses = self._shared(batch, self.test_acc)
        self.log("test/loss", losses["loss"], on_epoch=True, batch_size=batch["answer"].shape[0], sync_dist=True)

    def _log_summary(self, split: str, metric: FamilyAccuracy) -> None:
        counts = metric.compute()
        metric.reset()
        if self.trainer.sanity_checking:
            return
        s = summarize(counts, self.family_names, self.groups)
        self.last_summary[split] = s
        self.log(f"{split}/acc", s["acc"], prog_bar=True)
        self.log(f"{split}/frames_acc", s["frames_acc"])
        for g, v in s["groups"].items():
            self.log(f"{split}/group/{g}", v["acc"])
        for f, v in s["families"].items():
            self.log(f"{split}/family/{f}", v["acc"])

    def on_validation_epoch_end(self) -> None:
        self._log_summary("val", self.val_acc)

    def on_test_epoch_end(self) -> None:
        self._log_summary("test", self.test_acc)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.origin = checkpoint.get("vrkit_origin")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[FORMAT_KEY] = MODEL_FORMAT  # the defaults this checkpoint's config relies on
        if self.origin is not None:  # fine-tuned converted weights keep their origin
            checkpoint["vrkit_origin"] = self.origin
        # Flush buffered log rows first, so metrics.csv holds everything up to the checkpoint after a kill -9.
        for logger in self.loggers:
            logger.save()

    # -- optimisation --------------------------------------------------------------------------------
    def configure_optimizers(self) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return torch.optim.Adam(self.parameters(), lr=self._lr_now(), weight_decay=o.weight_decay)

    def _lr_now(self) -> float:
        o = self.cfg.optim
        t = self.global_step if o.warmup_unit == "step" else self.current_epoch
        lr = warmup_lr(t, o.lr, o.warmup_start_lr, o.warmup_every)
        if o.decay == "cosine":
            lr *= decay_factor(self.global_step, self.cfg.trainer.max_steps, o.decay_start, o.decay_floor)
        return lr

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Written here because Lightning skips non-finite steps only for fp16 (GradScaler): one NaN/inf gradient
        # (a rare overflow in fp32 or bf16) would otherwise turn every weight into NaN for the rest of the run.
        # The step is skipped (no gradients → Adam leaves every parameter and its moments alone); after
        # ``optim.max_skipped_steps`` consecutive skips the run stops. The decision depends only on the
        # (all-reduced) gradients, so every DDP rank takes the same one.
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        self._skip_step = bool(grads) and not bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))
        if not self._skip_step:
            self._consecutive_skips = 0
            return
        optimizer.zero_grad(set_to_none=True)
        self.skipped_steps += 1
        self._consecutive_skips += 1
        self.log("train/skipped_steps", float(self.skipped_steps), on_step=True, on_epoch=False, batch_size=1)
        limit = self.cfg.optim.max_skipped_steps
        if limit is not None and self._consecutive_skips >= limit:
            raise TrainingDiverged(f"non-finite gradients in {self._consecutive_skips} consecutive steps (last at "
                                   f"step {self.global_step}); the checkpoints hold the last finite weights — "
                                   "lower optim.lr or use optim.clip")

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        if not self._skip_step:  # a skipped step has no gradients left to clip
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Dropout etc. draw from a generator seeded by (seed, step, rank), and the lr schedule is a pure function
        # of (epoch, step): a resumed run repeats exactly what an uninterrupted one does.
        torch.manual_seed(_seed_of(self.cfg.seed, self.global_step, self.global_rank))
        lr = self._lr_now()
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        self.log("lr", lr, on_step=True, on_epoch=False, batch_size=1)


def _without_paths(tree: dict[str, Any]) -> dict[str, Any]:
    """Config tree with data sources dropped: a checkpoint must load where its training files are absent."""
    import copy

    t = copy.deepcopy(tree)
    data = t.get("data") or {}
    for split in ("train", "val", "test"):
        if isinstance(data.get(split), dict) and data[split].get("kind") == "files":
            data[split] = {"kind": "stream", "n": 1}
    if isinstance(t.get("optim"), dict):
        t["optim"]["answer_balanced"] = False  # only meaningful with the (dropped) training files
    return t
