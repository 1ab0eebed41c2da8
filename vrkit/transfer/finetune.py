"""Training, fine-tuning (all / head / one unit) and network surgery on top of :mod:`vrkit.engine`.

* :func:`train_run` — ``vrkit.engine.run.train`` in a run directory, resuming a run interrupted mid-way.
* :func:`finetune_run` — start from a source checkpoint's weights, freeze everything but the chosen units
  (``None`` = fine-tune all), train with the engine's trainer; frozen units are also kept in eval mode, so
  their buffers (e.g. normalisation statistics) do not move either.
* :func:`unit_tensor_names` / :func:`graft` — the state-dict keys of a unit of ``model.units()`` and a copy of
  a source state dict with one unit's tensors taken from another (fast / faster flex-tuning proxies).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.engine.config import TrainConfig, dump_yaml, to_dict
from vrkit.utils.atomic import atomic_write_text

HEAD_UNITS = ("head", "output_unit", "output", "pointing", "pointing_head")


def _quiet() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(does not have many workers|number of training batches|"
                                              r"LeafSpec|exists and is not empty|seeded).*")


def best_ckpt(run_dir: str | Path) -> Path:
    ckpts = Path(run_dir) / "checkpoints"
    best = ckpts / "best.ckpt"
    return best if best.is_file() else ckpts / "last.ckpt"


def train_run(cfg: TrainConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train from scratch in ``run_dir`` (resumes from ``last.ckpt`` if a previous attempt was cut short)."""
    from vrkit.engine.run import train

    run = Path(run_dir)
    resume = (run / "checkpoints" / "last.ckpt").is_file()
    res = train(cfg, resume=resume, run_dir=run)
    return {"ckpt": str(best_ckpt(run)), "epochs": res.get("epochs"), "steps": res.get("steps"),
            "val_acc": (res.get("val") or {}).get("acc")}


def unit_tensor_names(model: nn.Module, unit: str) -> list[str]:
    """State-dict keys (parameters and buffers) of ``model.units()[unit]``."""
    units = model.units()
    if unit not in units:
        raise KeyError(f"unknown unit {unit!r} (units: {', '.join(units)})")
    ids = {id(t) for t in units[unit].parameters()} | {id(t) for t in units[unit].buffers()}
    named = list(model.named_parameters(remove_duplicate=False)) + list(model.named_buffers(remove_duplicate=False))
    return [name for name, t in named if id(t) in ids]


def head_units(model: nn.Module) -> list[str]:
    """Units fine-tuned by the head-only mode: the answer classifier (and pointing head) of ``units()``;
    the last unit if none has a known head name."""
    names = list(model.units())
    heads = [n for n in names if n in HEAD_UNITS]
    return heads or names[-1:]


def trainable_units(model: nn.Module) -> list[str]:
    """Units that hold at least one parameter (candidates of flex-tuning), input to output."""
    return [n for n, m in model.units().items() if any(True for _ in m.parameters())]


def graft(source: Mapping[str, Tensor], donor: Mapping[str, Tensor], keys: Sequence[str]) -> dict[str, Tensor]:
    """``source`` state dict with the tensors at ``keys`` copied from ``donor``."""
    out = {k: v.clone() for k, v in source.items()}
    for k in keys:
        out[k] = donor[k].clone()
    return out


class _FrozenEval:
    """Lightning callback body: put frozen units back in eval mode before every training batch."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = modules

    def on_train_batch_start(self, *args: Any, **kwargs: Any) -> None:
        for m in self.modules:
            m.eval()


def _callback(modules: list[nn.Module]) -> Any:
    from lightning.pytorch.callbacks import Callback

    cls = type("FrozenEval", (_FrozenEval, Callback), {})
    return cls(modules)


def finetune_run(cfg: TrainConfig, source_ckpt: str | Path, run_dir: str | Path,
                 units: Sequence[str] | None = None) -> dict[str, Any]:
    """Fine-tune the weights of ``source_ckpt`` per ``cfg`` in ``run_dir``; only ``units`` (names of
    ``model.units()``) are trainable, or all parameters when ``units`` is None."""
    import lightning as L

    from vrkit.engine.evaluate import load_task
    from vrkit.engine.module import ReasoningTask
    from vrkit.engine.recipe import build_datamodule
    from vrkit.engine.run import build_trainer, save_final_weights

    _quiet()
    run = Path(run_dir)
    last = run / "checkpoints" / "last.ckpt"
    resume = last.is_file()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    task = ReasoningTask(to_dict(cfg))
    src = load_task(source_ckpt)
    task.model.load_state_dict(src.model.state_dict())
    task.origin = src.origin  # converted reference weights stay traceable through fine-tuning
    frozen: list[nn.Module] = []
    if units is not None:
        all_units = task.model.units()
        unknown = [u for u in units if u not in all_units]
        if unknown:
            raise KeyError(f"unknown unit(s) {unknown} (units: {', '.join(all_units)})")
        keep = {id(p) for u in units for p in all_units[u].parameters()}
        for p in task.model.parameters():
            p.requires_grad_(id(p) in keep)
        frozen = [m for n, m in all_units.items() if n not in units]
    dm = build_datamodule(cfg.data, cfg.optim, cfg.seed)
    keep_epoch = int(torch.load(last, map_location="cpu", weights_only=False)["epoch"]) if resume else None
    trainer = build_trainer(cfg, run, callbacks=[_callback(frozen)] if frozen else None, keep_epoch=keep_epoch)
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", dump_yaml(cfg))
    trainer.fit(task, datamodule=dm, ckpt_path=str(last) if resume else None)
    save_final_weights(trainer, task, dm, run)
    return {"ckpt": str(best_ckpt(run)), "epochs": trainer.current_epoch, "steps": trainer.global_step,
            "units": None if units is None else list(units)}
