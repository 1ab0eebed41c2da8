"""Scales of the transfer recipes: the base training config and the sizes of the transfer-specific sets.

* ``tiny``  — tests and smoke runs (seconds): the model's ``small_config()``, 48 training examples, 1 epoch.
* ``cpu``   — ``configs/<world>/<model>_cpu.yaml`` (state path, small widths); every training stage gets
  ``minutes / (training stages x seeds)`` minutes of wall clock so that a whole recipe fits the budget
  (default 30 min on 2 cores).
* ``paper`` — ``configs/<world>/<model>_paper.yaml`` (pixels, the reference sizes), no time cap.

A ``--config PATH`` replaces the scale's base YAML; ``KEY=VALUE`` overrides apply on top of either.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from vrkit.configs import CONFIG_DIR
from vrkit.engine.config import TrainConfig, apply_overrides, to_dict
from vrkit.engine.recipe import load_run_config, run_config_from_tree
from vrkit.errors import InputError

SCALES = ("tiny", "cpu", "paper")
CONFIG_ROOT = CONFIG_DIR  # the recipes shipped inside the package (vrkit/configs)


@dataclass
class ScaleSizes:
    """Sizes of the sets the recipes add on top of the base config (per task or per condition)."""

    test_n: int  # test examples per test stage
    ft_n: int  # fine-tuning examples per epoch
    ft_epochs: int  # epochs of a fine-tuning stage (temporal: 1, per the protocol: RECIPE_SIZES)
    ft_val_n: int  # validation examples of a fine-tuning stage (flex-tuning selection)
    minutes: float | None  # wall-clock budget of a whole recipe (None = no cap)


SIZES: dict[str, ScaleSizes] = {
    "tiny": ScaleSizes(test_n=32, ft_n=32, ft_epochs=1, ft_val_n=24, minutes=None),
    "cpu": ScaleSizes(test_n=1000, ft_n=2048, ft_epochs=2, ft_val_n=512, minutes=30.0),
    "paper": ScaleSizes(test_n=23000, ft_n=30000, ft_epochs=1, ft_val_n=5000, minutes=None),
}

# Per-recipe departures from SIZES. Temporal transfer fine-tunes one epoch on hard (the protocol; tiny and paper
# already do). Feature transfer fine-tunes as the reference protocol does (one epoch on 30k B questions) at cpu
# scale too: CLEVR state-path updates are cheap (~30/s on one core, ~20-50 s per stage).
RECIPE_SIZES: dict[tuple[str, str], dict[str, int]] = {
    ("temporal", "cpu"): {"ft_epochs": 1},
    ("feature", "cpu"): {"ft_n": 30000, "ft_epochs": 1},
}


def _tiny_tree(world: str, model: str) -> dict:
    from vrkit.models.registry import get_model_class

    try:
        small = get_model_class(model).small_config()
    except KeyError as err:
        raise InputError(str(err.args[0])) from None
    return {
        "seed": 0, "model": {"name": model, **small},
        "data": {"world": world, "variant": "canonical" if world == "cog" else "A", "families": "all",
                 "path": "state", "train": {"kind": "stream", "n": 48}, "val": {"kind": "stream", "n": 24},
                 "batch_size": 16},
        "optim": {"lr": 1e-3},
        "trainer": {"max_epochs": 1, "log_every_n_steps": 1},
    }


def base_config(world: str, model: str, scale: str, config: str | Path | None = None,
                overrides: list[str] | None = None) -> TrainConfig:
    """The base :class:`TrainConfig` of a recipe (checked); stages copy it and change data/epochs/seed."""
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r} (known: {', '.join(SCALES)})")
    if config is None and scale != "tiny":
        config = CONFIG_ROOT / world / f"{model}_{scale}.yaml"
        if not Path(config).is_file():
            raise InputError(f"no {scale} config for model {model!r} in world {world!r}", config)
    if config is not None:
        cfg = load_run_config(config, [f"model.name={model}", *(overrides or [])])
        return cfg
    tree = apply_overrides(_tiny_tree(world, model), list(overrides or []))
    return run_config_from_tree(tree, "<tiny scale>")


def derive(base: TrainConfig, *, seed: int, variant: str | None = None, families: object = None,
           train_n: int | None = None, val_n: int | None = None, max_epochs: int | None = None,
           max_minutes: float | None = None, early_stopping: int | None | str = "keep") -> TrainConfig:
    """A copy of ``base`` for one training stage (generated streams for train and val)."""
    tree = copy.deepcopy(to_dict(base))
    tree["seed"] = seed
    data = tree["data"]
    if variant is not None:
        data["variant"] = variant
    if families is not None:
        data["families"] = families
    data["train"] = {"kind": "stream", "n": train_n or data["train"].get("n") or 2048}
    vn = val_n or (data.get("val") or {}).get("n") or 512
    data["val"] = {"kind": "stream", "n": vn}
    data["test"] = None
    if max_epochs is not None:
        tree["trainer"]["max_epochs"] = max_epochs
    if max_minutes is not None:
        cur = tree["trainer"].get("max_minutes")
        tree["trainer"]["max_minutes"] = max_minutes if cur is None else min(cur, max_minutes)
    if early_stopping != "keep":
        tree["trainer"]["early_stopping_patience"] = early_stopping
    tree["run_dir"] = None
    return run_config_from_tree(tree, "<transfer stage config>")
