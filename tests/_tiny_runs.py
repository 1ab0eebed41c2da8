"""Tiny training runs shared by the explain and report tests (one per process and kind, seconds each)."""

from __future__ import annotations

from pathlib import Path

from vrkit.engine.config import from_dict
from vrkit.engine.run import train
from vrkit.models.registry import get_model_class

COG_FAMILIES = ["ExistColor", "GetShape", "GoColor", "ExistLastColorSameShape"]
_CACHE: dict[tuple[str, str, str], Path] = {}


def tiny_run(root: Path, model: str = "samnet", path: str = "state", world: str = "cog") -> Path:
    """Run directory of a one-epoch tiny run (cached per process): COG families above (pointing included,
    question reversed) or CLEVR CoGenT A; returns the run directory (checkpoints/last.ckpt inside)."""
    key = (model, path, world)
    if key in _CACHE:
        return _CACHE[key]
    run = root / f"{world}_{model}_{path}"
    n = 16 if path == "pixels" else 32
    data = {"world": world, "path": path, "train": {"kind": "stream", "n": n}, "val": {"kind": "stream", "n": 16},
            "batch_size": 16}
    if world == "cog":
        data["families"] = COG_FAMILIES
    else:
        data.update({"variant": "A", "families": "all", "image_size": 64})
    tree = {"seed": 2, "run_dir": str(run), "model": {"name": model, **get_model_class(model).small_config()},
            "data": data, "optim": {"lr": 1e-3, "reverse_question": world == "cog"},
            "trainer": {"max_epochs": 1, "log_every_n_steps": 1}}
    train(from_dict(tree))
    _CACHE[key] = run
    return run
