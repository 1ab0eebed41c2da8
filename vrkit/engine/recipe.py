"""Run configs checked against their world, and the world → datamodule table.

:mod:`vrkit.engine.config` checks a recipe's structure only (keys, types, bounds, the model's options); the
world's own checks (family names, variants, paths) are its datamodule's ``check_config``. This module sits
above the datamodules and joins the two: :func:`load_run_config` is what commands call to turn a recipe and
overrides into a config that is ready to train (docs/architecture.md, 'Datamodules' and 'Recipes').
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from vrkit.engine.config import DataConfig, OptimConfig, TrainConfig, from_dict, load_config, resume_config
from vrkit.errors import InputError

# world name -> "module:DataModule class"
WORLDS: dict[str, str] = {
    "cog": "vrkit.engine.datamodules.cog:CogDataModule",
    "clevr": "vrkit.engine.datamodules.clevr:ClevrDataModule",
}


def datamodule_class(world: str) -> Any:
    """The LightningDataModule class of ``world``; ``InputError`` if the world has none (yet)."""
    if world not in WORLDS:
        raise InputError(f"unknown world {world!r} (known: {', '.join(WORLDS)})")
    module, cls = WORLDS[world].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise InputError(f"world {world!r} has no training datamodule yet ({module} is missing)") from None
    return getattr(mod, cls)


def check_data_config(cfg: DataConfig) -> None:
    """World-specific checks (names, variants, paths) before training starts; raises InputError/ValueError."""
    datamodule_class(cfg.world).check_config(cfg)


def build_datamodule(cfg: DataConfig, optim: OptimConfig, seed: int) -> Any:
    return datamodule_class(cfg.world)(cfg, optim, seed)


def check_run_config(cfg: TrainConfig, where: str | Path) -> TrainConfig:
    """``cfg`` after its world's checks; a bad name or variant is an InputError naming ``where``."""
    try:
        check_data_config(cfg.data)
    except (TypeError, ValueError) as err:
        raise InputError(str(err), where) from None
    return cfg


def run_config_from_tree(tree: dict[str, Any], where: str) -> TrainConfig:
    """:func:`~vrkit.engine.config.from_dict` plus the world's checks; bad input is an InputError naming
    ``where`` (what the tree stands for, e.g. ``<tiny scale>``)."""
    try:
        cfg = from_dict(tree)
    except (TypeError, ValueError) as err:
        raise InputError(str(err), where) from None
    return check_run_config(cfg, where)


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """:func:`~vrkit.engine.config.load_config` (structure) plus the world's checks: one line naming the file
    (``<defaults>`` without one) on bad input."""
    return check_run_config(load_config(path, overrides), "<defaults>" if path is None else str(path))


def resume_run_config(path: str | Path | None,
                      overrides: list[str]) -> tuple[TrainConfig, dict[str, tuple[Any, Any]]]:
    """:func:`~vrkit.engine.config.resume_config` plus the world's checks of the resumed config."""
    cfg, changes = resume_config(path, overrides)
    return check_run_config(cfg, str(path) if path is not None else str(Path(str(cfg.run_dir)) / "config.yaml")), \
        changes
