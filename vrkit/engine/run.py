"""``train(cfg)``: one training run in a run directory.

Run directory layout::

    config.yaml                resolved config (written before training)
    checkpoints/last.ckpt      end of the latest epoch (resume point)
    checkpoints/best.ckpt      best val/acc so far (when a val source is configured)
    metrics.csv                Lightning CSV log (one row per logging step / epoch)
    tb/                        TensorBoard event files
    final_metrics.json         val (and test) summary at the end: overall, per family, per group

Checkpoints are written through :class:`AtomicCheckpointIO` (temp file + fsync + rename), so ``kill -9`` never
leaves a truncated checkpoint. Resume (``resume=True``) continues from ``last.ckpt``; with end-of-epoch
checkpoints and epoch-seeded data and dropout the resumed run ends with the same metrics as an uninterrupted one.
A failed command never rewrites a run's files: a resumed run's checkpoint is read before anything is written and
its ``config.yaml`` is rewritten only after the fit; a new run that fails before its first checkpoint leaves no
directory behind. Ctrl-C raises :class:`vrkit.errors.Interrupted` naming how to continue.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from vrkit.engine.checkpoint_format import saved_format, upgrade_config
from vrkit.engine.config import TrainConfig, dump_yaml, from_dict, to_dict
from vrkit.engine.module import ReasoningTask
from vrkit.engine.recipe import build_datamodule
from vrkit.errors import InputError, Interrupted
from vrkit.utils.atomic import atomic_open, atomic_write_text, clean_stale_temps

PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


class AtomicCheckpointIO(TorchCheckpointIO):
    """Torch checkpoint IO that writes to a temp file in the same directory, fsyncs, then renames."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_open(Path(path), "wb") as fh:
            torch.save(checkpoint, fh)


def _quiet() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*the number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*isn't.*seeded.*|.*`isinstance\(treespec, LeafSpec\)`.*")
    # DDP: the per-rank training loss averaged over an epoch is logged as rank 0's (its progress readout); the
    # accuracies are torchmetrics states summed across ranks, so nothing reported needs Lightning's sync_dist
    warnings.filterwarnings("ignore", message=r".*It is recommended to use `self.log\(.*sync_dist=True\)`.*")


def build_trainer(cfg: TrainConfig, run_dir: Path, callbacks: list | None = None, logger: Any = True,
                  keep_epoch: int | None = None) -> L.Trainer:
    """The Lightning trainer of a run (checkpoints, loggers, clipping, precision, schedule reloads)."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    from vrkit.engine._csvlog import ResumableCSVLogger

    t = cfg.trainer
    has_val = cfg.data.val is not None
    cbs = list(callbacks or [])
    cbs.append(ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best",
                               monitor="val/acc" if has_val else None, mode="max",
                               save_top_k=1 if has_val else 0, save_last=True, enable_version_counter=False))
    if t.early_stopping_patience is not None and has_val:
        cbs.append(EarlyStopping(monitor="val/acc", mode="max", patience=t.early_stopping_patience))
    profiler = None
    if t.profiler == "simple":  # per-hook wall time (data, training_step, backward, optimizer) → profile.txt
        from lightning.pytorch.profilers import SimpleProfiler

        profiler = SimpleProfiler(dirpath=str(run_dir), filename="profile")
    loggers: Any = False
    if logger:
        loggers = [ResumableCSVLogger(str(run_dir), keep_epoch),
                   TensorBoardLogger(save_dir=str(run_dir), name="tb", version="", default_hp_metric=False)]
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        precision=PRECISION[t.precision], max_epochs=t.max_epochs, max_steps=t.max_steps,
        max_time=None if t.max_minutes is None else {"minutes": t.max_minutes},
        deterministic=t.deterministic, gradient_clip_val=cfg.optim.clip,
        gradient_clip_algorithm=cfg.optim.clip_mode, check_val_every_n_epoch=t.val_every_n_epochs,
        log_every_n_steps=t.log_every_n_steps, enable_progress_bar=t.progress_bar, enable_model_summary=False,
        num_sanity_val_steps=0, reload_dataloaders_every_n_epochs=1, use_distributed_sampler=False,
        callbacks=cbs, logger=loggers, plugins=[AtomicCheckpointIO()], default_root_dir=str(run_dir),
        limit_val_batches=None if has_val else 0, profiler=profiler,
    )


def save_final_weights(trainer: L.Trainer, task: L.LightningModule, dm: L.LightningDataModule,
                       run_dir: Path) -> bool:
    """Checkpoint the final weights of a fit that stopped inside an epoch (time or step budget).

    Lightning checkpoints at validation (or epoch) ends only, so the updates after the last one were lost. Here
    the final weights are validated (when there is a validation set), written to ``last.ckpt`` and, if they
    score better, to ``best.ckpt``. Returns True when something was saved."""
    ckpts = run_dir / "checkpoints"
    last = ckpts / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)["global_step"] if last.exists() else 0
    if trainer.global_step <= saved:
        return False
    cb = trainer.checkpoint_callback
    score = None
    if trainer.num_val_batches and sum(trainer.num_val_batches) > 0:
        trainer.validate(task, datamodule=dm, verbose=False)
        score = task.last_summary.get("val", {}).get("acc")
    trainer.save_checkpoint(last)
    best = cb.best_model_score if cb is not None else None
    if score is not None and (best is None or score > float(best)):
        trainer.save_checkpoint(ckpts / "best.ckpt")
    return True


def _read_checkpoint(last: Path) -> dict[str, Any]:
    """``last.ckpt`` with its epoch; InputError for a truncated or foreign file."""
    try:
        saved = torch.load(last, map_location="cpu", weights_only=False)
        int(saved["epoch"])
        return saved
    except Exception as err:  # noqa: BLE001 - any unreadable checkpoint is bad input, named by its path
        raise InputError(f"cannot resume from this checkpoint (truncated or not a vrkit checkpoint: "
                         f"{type(err).__name__})", last) from None


def _checkpoint_epoch(last: Path) -> int:
    """The epoch stored in ``last.ckpt``; InputError for a truncated or foreign file."""
    return int(_read_checkpoint(last)["epoch"])


def _as_saved(cfg: TrainConfig, saved: dict[str, Any], last: Path) -> TrainConfig:
    """``cfg`` with the options and sizes the model in ``saved`` was built with where ``cfg`` leaves them to
    defaults that changed since its format (:mod:`vrkit.engine.checkpoint_format`), with one notice each."""
    config, notes = upgrade_config(to_dict(cfg), saved_format(saved))
    for note in notes:
        print(f"vrkit: {last}: {note}", file=sys.stderr)
    return cfg if config is None else from_dict(config)


def _fit(trainer: L.Trainer, task: L.LightningModule, dm: L.LightningDataModule, ckpt: Path | None,
         run: Path) -> None:
    """``trainer.fit``; Lightning turns Ctrl-C into ``sys.exit(1)`` (and ignores SIGINT afterwards): here it
    becomes :class:`Interrupted` with the command that continues the run, and the SIGINT handler is restored."""
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        trainer.fit(task, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
    except SystemExit:
        if not trainer.interrupted:
            raise
        if (run / "checkpoints" / "last.ckpt").exists():
            raise Interrupted(f"`vrkit train --resume --run-dir {run}` continues the run") from None
        raise Interrupted("before the first checkpoint; nothing to resume") from None
    finally:
        if main_thread and handler is not None:
            signal.signal(signal.SIGINT, handler)


def train(cfg: TrainConfig, resume: bool = False, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns the final summary ``{"run_dir", "val": {...}, "test": {...}, "epochs", "steps"}``."""
    _quiet()
    run = Path(run_dir or cfg.run_dir or "runs/default")
    cfg.run_dir = str(run)
    last = run / "checkpoints" / "last.ckpt"
    if resume and not last.exists():
        raise InputError("nothing to resume: no checkpoints/last.ckpt", run)
    if not resume and last.exists():
        raise InputError("run directory already holds checkpoints; pass --resume or choose another run_dir", run)
    keep_epoch = None
    if resume:  # a truncated checkpoint fails before any write
        saved = _read_checkpoint(last)
        keep_epoch, cfg = int(saved["epoch"]), _as_saved(cfg, saved, last)
        del saved
    created = not run.exists()
    for d in (run, run / "checkpoints"):
        clean_stale_temps(d)  # temp files of a killed writer (kill -9 during a checkpoint write)
    if cfg.trainer.strategy == "auto" and cfg.trainer.devices == 1:
        torch.set_flush_denormal(True)  # denormals slowed CPU runs 3-4x (measured on this project's 2-core machine)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = build_datamodule(cfg.data, cfg.optim, cfg.seed)
    task = ReasoningTask(to_dict(cfg))
    trainer = build_trainer(cfg, run, keep_epoch=keep_epoch)
    if trainer.is_global_zero and not resume:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "config.yaml", dump_yaml(cfg))
    try:
        _fit(trainer, task, dm, last if resume else None, run)
    except BaseException:
        if created and trainer.is_global_zero and not last.exists():
            shutil.rmtree(run, ignore_errors=True)  # nothing to resume: leave no half-made run directory
        raise
    if trainer.is_global_zero and resume:
        atomic_write_text(run / "config.yaml", dump_yaml(cfg))  # the allowed changes (budgets), after success
    save_final_weights(trainer, task, dm, run)
    final = run / "final_metrics.json"
    if resume and not task.last_summary and final.exists():  # the run had already finished: nothing new
        return json.loads(final.read_text())
    result: dict[str, Any] = {"run_dir": str(run), "epochs": trainer.current_epoch, "steps": trainer.global_step}
    if "val" in task.last_summary:
        result["val"] = task.last_summary["val"]
    if "train" in task.last_summary:
        result["train_acc"] = task.last_summary["train"]["frames_acc"]
    if cfg.data.test is not None:
        best = run / "checkpoints" / "best.ckpt"
        trainer.test(task, datamodule=dm, ckpt_path=str(best) if best.exists() else None, verbose=False)
        result["test"] = task.last_summary.get("test")
    if trainer.is_global_zero:
        with atomic_open(final, "w") as fh:
            json.dump(result, fh, indent=1, sort_keys=True)
    return result
