"""vrkit — transfer learning in visual and relational reasoning.

The public API, by layer (docs/architecture.md). Each name is importable from the package root and is loaded
on first use, so ``import vrkit`` stays light (no torch):

* worlds — ``generate_example``, ``example_stream`` (one COG example / an endless seeded stream),
  ``check_example`` (the independent COG answer checker), ``FAMILIES``, ``FAMILY_TABLE``, ``GROUPS``,
  ``VARIANTS``, ``Variant``; ``GenerateConfig`` + ``generate_dataset`` (COG files in the official layout),
  ``ClevrGenerateConfig`` + ``generate_clevr`` (CLEVR images, scenes and questions);
* data — ``CogFileDataset``, ``CogStreamDataset``, ``ClevrDataset``, ``collate_cog``, ``collate_clevr``;
* models — ``build_model``, ``MODELS`` (the registry);
* engine — ``load_config`` (structure), ``load_run_config`` (and the world's checks), ``TrainConfig``,
  ``train``, ``load_task``, ``evaluate``, ``predict``;
* transfer — ``RECIPES``, ``run_recipe``, ``write_report``;
* recipes — ``CONFIG_DIR`` (the shipped training recipes); errors — ``InputError``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_HOMES: dict[str, str] = {
    "generate_example": "vrkit.worlds.cog.generator",
    "example_stream": "vrkit.worlds.cog.generator",
    "check_example": "vrkit.worlds.cog.checker",
    "FAMILIES": "vrkit.worlds.cog.constants",
    "FAMILY_TABLE": "vrkit.worlds.cog.constants",
    "GROUPS": "vrkit.worlds.cog.constants",
    "VARIANTS": "vrkit.worlds.cog.constants",
    "Variant": "vrkit.worlds.cog.constants",
    "GenerateConfig": "vrkit.worlds.cog.writer",
    "generate_dataset": "vrkit.worlds.cog.writer",
    "ClevrGenerateConfig": "vrkit.worlds.clevr.writer",
    "generate_clevr": "vrkit.worlds.clevr.writer",
    "CogFileDataset": "vrkit.data",
    "CogStreamDataset": "vrkit.data",
    "ClevrDataset": "vrkit.data",
    "collate_cog": "vrkit.data",
    "collate_clevr": "vrkit.data",
    "build_model": "vrkit.models",
    "MODELS": "vrkit.models",
    "load_config": "vrkit.engine",
    "load_run_config": "vrkit.engine.recipe",
    "TrainConfig": "vrkit.engine",
    "train": "vrkit.engine.run",
    "load_task": "vrkit.engine.evaluate",
    "evaluate": "vrkit.engine.evaluate",
    "predict": "vrkit.engine.evaluate",
    "RECIPES": "vrkit.transfer",
    "run_recipe": "vrkit.transfer",
    "write_report": "vrkit.transfer",
    "CONFIG_DIR": "vrkit.configs",
    "InputError": "vrkit.errors",
}

__all__ = ["__version__", *_HOMES]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'vrkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
