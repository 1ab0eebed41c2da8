"""``pretrain(cfg, run_dir)``: one pretraining run on generated CATER videos in a run directory.

Run directory layout::

    config.yaml             resolved config (written before training)
    checkpoints/last.ckpt   end of the latest epoch, or the final weights of a run stopped by its budget
    metrics.csv             Lightning CSV log (train/loss per logging step, val/loss per epoch, lr)
    loss_curve.csv          step, train_loss (per logging step), train_loss_epoch, val_loss (from metrics.csv)
    encoder.pt              {"config": IVCLConfig fields, "objective", "state_dict"}: the encoder and temporal
                            transformer the transfer recipes start from (the decoder and heads are dropped)
    final_metrics.json      steps, epochs, last train and val loss, parameters

Resume (``resume=True``) continues from ``last.ckpt`` with the saved ``config.yaml``; only budgets may change
(:data:`vrkit.engine.pretrain.RESUME_ALLOWED`). A new run that fails before its first checkpoint leaves no
directory behind; Ctrl-C raises :class:`vrkit.errors.Interrupted` naming how to continue.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml

from vrkit.engine.pretrain import RESUME_ALLOWED, PretrainConfig, PretrainTask, from_tree, to_tree
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_path, atomic_write_text, clean_stale_temps

ENCODER = "encoder.pt"
LOSS_CURVE = "loss_curve.csv"


def resume_config(run: Path, overrides: dict[str, Any]) -> PretrainConfig:
    """The saved config of ``run`` with budget ``overrides`` (dotted key → value); InputError otherwise."""
    saved = run / "config.yaml"
    if not saved.is_file():
        raise InputError("nothing to resume: no config.yaml (was it made by vrkit pretrain?)", run)
    refused = sorted(k for k in overrides if k not in RESUME_ALLOWED)
    if refused:
        raise InputError(f"--resume would change {', '.join(refused)} (may change: "
                         f"{', '.join(sorted(RESUME_ALLOWED))}); start a new --out instead", saved)
    tree = yaml.safe_load(saved.read_text(encoding="utf-8"))
    for key, value in overrides.items():
        section, name = key.split(".")
        tree[section][name] = value
    return from_tree(tree, str(saved))


def _trainer(cfg: PretrainConfig, run: Path, keep_epoch: int | None) -> L.Trainer:
    from lightning.pytorch.callbacks import ModelCheckpoint

    from vrkit.engine._csvlog import ResumableCSVLogger
    from vrkit.engine.run import PRECISION, AtomicCheckpointIO

    t = cfg.trainer
    return L.Trainer(
        accelerator="cpu", devices=1, precision=PRECISION[t.precision], max_epochs=t.max_epochs,
        max_steps=t.max_steps, max_time=None if t.max_minutes is None else {"minutes": t.max_minutes},
        deterministic=True, gradient_clip_val=cfg.optim.clip, gradient_clip_algorithm="norm",
        log_every_n_steps=t.log_every_n_steps, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, reload_dataloaders_every_n_epochs=1, limit_val_batches=None if cfg.data.val_n else 0,
        callbacks=[ModelCheckpoint(dirpath=run / "checkpoints", filename="last", save_top_k=0, save_last=True,
                                   enable_version_counter=False)],
        logger=[ResumableCSVLogger(str(run), keep_epoch)], plugins=[AtomicCheckpointIO()], default_root_dir=str(run))


def loss_curve(metrics_csv: Path) -> str:
    """``step,train_loss,val_loss`` rows of a run's metrics.csv (empty cells where a loss was not logged)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "train_loss", "train_loss_epoch", "val_loss"])
    if metrics_csv.is_file():
        with metrics_csv.open(newline="") as fh:
            for row in csv.DictReader(fh):
                values = [row.get(k, "") for k in ("train/loss_step", "train/loss_epoch", "val/loss")]
                if any(values):
                    w.writerow([row.get("step", ""), *values])
    return buf.getvalue()


def save_encoder(task: PretrainTask, path: Path) -> None:
    """The transferable weights of ``task`` (module docstring), written atomically."""
    import dataclasses

    with atomic_path(path) as tmp:
        torch.save({"config": dataclasses.asdict(task.model.config), "objective": task.cfg.objective,
                    "state_dict": task.model.encoder_state()}, tmp)


def load_encoder(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(IVCL with the saved weights and no decoder, the file's dict); InputError for a file that is not one."""
    from vrkit.models.ivcl import IVCL, IVCLConfig

    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        model = IVCL(IVCLConfig(**blob["config"])).drop_decoder()
        model.load_state_dict(blob["state_dict"])
    except Exception as err:  # noqa: BLE001 - any unreadable file is bad input, named by its path
        raise InputError(f"not an IV-CL encoder file ({type(err).__name__})", path) from None
    return model, blob


def pretrain(cfg: PretrainConfig, run_dir: str | Path, resume: bool = False, source: Any = None,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Pretrain per ``cfg`` in ``run_dir``; returns the final summary (also ``final_metrics.json``).
    ``source``: replaces the world's generator and state path (tests; :class:`vrkit.data.cater.WorldSource`)."""
    from vrkit.engine.datamodules.cater import CaterDataModule
    from vrkit.engine.run import _checkpoint_epoch, _fit, _quiet, save_final_weights

    _quiet()
    run = Path(run_dir)
    last = run / "checkpoints" / "last.ckpt"
    if resume and not last.exists():
        raise InputError("nothing to resume: no checkpoints/last.ckpt", run)
    if not resume and last.exists():
        raise InputError("run directory already holds checkpoints; pass --resume or choose another --out", run)
    keep_epoch = _checkpoint_epoch(last) if resume else None
    created = not run.exists()
    for d in (run, run / "checkpoints"):
        clean_stale_temps(d)
    torch.set_flush_denormal(True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    d = cfg.data
    dm = CaterDataModule(cfg.world(), d.train_n, d.val_n, d.batch_size, d.workers, cfg.seed,
                         state=cfg.objective != "mae", source=source, pool=d.pool, pool_epochs=d.pool_epochs)
    sizes = None if cfg.objective == "mae" else dm.train.source.sizes(cfg.world())
    task = PretrainTask(to_tree(cfg), sizes)
    trainer = _trainer(cfg, run, keep_epoch)
    run.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(run / "config.yaml", yaml.safe_dump(to_tree(cfg), sort_keys=False))
    try:
        _fit(trainer, task, dm, last if resume else None, run)
    except BaseException:
        if created and not last.exists():
            shutil.rmtree(run, ignore_errors=True)  # nothing to resume: leave no half-made run directory
        raise
    if resume:
        atomic_write_text(run / "config.yaml", yaml.safe_dump(to_tree(cfg), sort_keys=False))
    save_final_weights(trainer, task, dm, run)
    save_encoder(task, run / ENCODER)
    atomic_write_text(run / LOSS_CURVE, loss_curve(run / "metrics.csv"))
    rows = list(csv.DictReader(io.StringIO((run / LOSS_CURVE).read_text())))
    last_of = {k: next((float(r[k]) for r in reversed(rows) if r[k]), None)
               for k in ("train_loss", "train_loss_epoch", "val_loss")}
    if last_of["train_loss"] is None:  # fewer steps than log_every_n_steps: the epoch mean
        last_of["train_loss"] = last_of["train_loss_epoch"]
    result = {"run_dir": str(run), "objective": cfg.objective, "steps": trainer.global_step,
              "epochs": trainer.current_epoch, "parameters": sum(p.numel() for p in task.model.parameters()),
              **last_of}
    atomic_write_text(run / "final_metrics.json", json.dumps(result, indent=1, sort_keys=True))
    if log:
        log(f"pretrained {cfg.objective}: {result['steps']} steps, train loss {last_of['train_loss']}")
    return result
