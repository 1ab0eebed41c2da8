"""A tiny model registry (timm-style).

``@register("samnet")`` on a ``ReasoningModel`` subclass; ``build_model("samnet", **config)`` builds it.
Model modules are imported lazily by name so that ``import vrkit.models`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

MODELS: dict[str, type] = {}

# name -> module that registers it (imported on first use)
_MODULES: dict[str, str] = {
    "samnet": "vrkit.models.samnet",
    "cog_baseline": "vrkit.models.cog_baseline",
    "mac": "vrkit.models.mac",
    "relation_net": "vrkit.models.relation_net",
    "cnn_lstm": "vrkit.models.cnn_lstm",
}


def register(name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model {name!r} registered twice")
        MODELS[name] = cls
        cls.model_name = name
        return cls

    return deco


def available_models() -> list[str]:
    """Names of every model whose module imports (lazily loading them)."""
    for name, module in _MODULES.items():
        if name not in MODELS:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as err:
                if err.name != module:
                    raise
    return sorted(MODELS)


def get_model_class(name: str) -> type:
    if name not in MODELS and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    return MODELS[name]


def build_model(name: str, **config: Any) -> Any:
    """Build a registered model from keyword config (fields of its dataclass config)."""
    return get_model_class(name).from_config(**config)
