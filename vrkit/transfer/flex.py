"""Flex-tuning (Royer & Lampert, 2020, 'A flexible selection scheme for minimum-effort transfer learning';
docs/transfer.md): fine-tune exactly one unit of ``model.units()``, chosen automatically.

Criteria (each returns the one-unit fine-tuned model; validation accuracy = mean over families, COG
convention, on the target domain's validation source):

* ``full``   (Algorithm 3, restricted to single units): fine-tune every unit alone; keep the best on val.
* ``fast``   (Algorithm 4): fine-tune all units once (same epochs); for every unit build a proxy = the source
  model with that unit grafted from the fine-tuned one; pick the best proxy on val; fine-tune that unit alone.
* ``faster`` (Algorithm 5): as ``fast`` with a one-epoch full fine-tune for the proxies.

The paper's ``fast`` may return the all-units model when it beats the single unit; the toolkit always returns
the single unit (the mode's definition) and reports the all-units validation accuracy next to it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from vrkit.engine.config import SourceConfig, TrainConfig
from vrkit.transfer.finetune import finetune_run, graft, trainable_units, unit_tensor_names

CRITERIA = ("full", "fast", "faster")


def val_accuracy(ckpt: str | Path, source: SourceConfig, state: dict | None = None) -> dict[str, Any]:
    """Summary of checkpoint ``ckpt`` (optionally with its model weights replaced by ``state``) on ``source``."""
    from vrkit.engine.evaluate import evaluate, load_task

    task = load_task(ckpt)
    if state is not None:
        task.model.load_state_dict(state)
    return evaluate(task, source)


def flex_tune(cfg: TrainConfig, source_ckpt: str | Path, run_dir: str | Path, criterion: str,
              val_source: SourceConfig) -> dict[str, Any]:
    """Run flex-tuning with ``criterion``; returns ``{"ckpt", "unit", "scores": {unit: val acc}, ...}``.

    ``cfg`` is the fine-tuning config (target data, epochs); ``val_source`` the target validation set
    (explicit variant/families/seed, since the source checkpoint was trained on other data)."""
    from vrkit.engine.evaluate import load_task

    if criterion not in CRITERIA:
        raise ValueError(f"unknown flex-tuning criterion {criterion!r} (known: {', '.join(CRITERIA)})")
    run = Path(run_dir)
    src_task = load_task(source_ckpt)
    units = trainable_units(src_task.model)
    scores: dict[str, float] = {}
    out: dict[str, Any] = {"criterion": criterion, "units_considered": units}
    if criterion == "full":
        ckpts = {}
        for u in units:
            res = finetune_run(cfg, source_ckpt, run / f"unit_{u}", units=[u])
            ckpts[u] = res["ckpt"]
            scores[u] = val_accuracy(res["ckpt"], val_source)["acc"]
        best = max(units, key=lambda u: (scores[u], -units.index(u)))
        out.update(ckpt=ckpts[best], unit=best, scores=scores)
        return out
    all_cfg = cfg
    if criterion == "faster":
        all_cfg = copy.deepcopy(cfg)
        all_cfg.trainer.max_epochs = 1
        all_cfg.trainer.early_stopping_patience = None
    ft_all = finetune_run(all_cfg, source_ckpt, run / "all_units", units=None)
    donor = load_task(ft_all["ckpt"]).model.state_dict()
    source_state = src_task.model.state_dict()
    for u in units:
        proxy = graft(source_state, donor, unit_tensor_names(src_task.model, u))
        scores[u] = val_accuracy(source_ckpt, val_source, proxy)["acc"]
    best = max(units, key=lambda u: (scores[u], -units.index(u)))
    res = finetune_run(cfg, source_ckpt, run / f"unit_{best}", units=[best])
    out.update(ckpt=res["ckpt"], unit=best, scores=scores,
               val_acc_unit=val_accuracy(res["ckpt"], val_source)["acc"])
    if criterion == "fast":
        out["val_acc_all"] = val_accuracy(ft_all["ckpt"], val_source)["acc"]
    return out
