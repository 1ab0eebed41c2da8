"""Tiny CLEVR data and checkpoints for the R-CBIR tests (generated in seconds)."""

from __future__ import annotations

from pathlib import Path

N_IMAGES = 12
SIZE = 32


def make_clevr(root: Path, n: int = N_IMAGES, seed: int = 3, split: str = "val") -> Path:
    """``n`` rendered images (SIZE px, 2 questions each) in the official layout under ``root``."""
    from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr

    generate_clevr(ClevrGenerateConfig(n_images=n, questions_per_image=2, split=split, seed=seed, width=SIZE,
                                       height=SIZE, out=str(root), workers=1))
    return root


def train_tiny(run: Path, model: str, data: Path | None = None, **options) -> Path:
    """One short epoch of ``model`` (small config): on pixels of ``data`` (split val), else on a generated
    state stream; returns the last checkpoint."""
    from vrkit.engine.config import from_dict
    from vrkit.engine.run import train
    from vrkit.models.registry import get_model_class

    if data is not None:
        d = {"path": "pixels", "image_size": SIZE, "train": {"kind": "files", "paths": [str(data), "val"]}}
    else:
        d = {"path": "state", "train": {"kind": "stream", "n": 32}}
    tree = {"seed": 1, "run_dir": str(run),
            "model": {"name": model, **get_model_class(model).small_config(), **options},
            "data": {"world": "clevr", "variant": "unrestricted", "families": "all", "val": None,
                     "batch_size": 16, **d},
            "optim": {"lr": 1e-3}, "trainer": {"max_epochs": 1, "log_every_n_steps": 1}}
    train(from_dict(tree))
    return run / "checkpoints" / "last.ckpt"


def rn_options() -> dict:
    """2 g-layers, question injected at the input of g-layer 2 (= f), pairs aggregated after g-layer 0:
    '2s' and 'avf' both exist and differ."""
    return {"q_inject_layer": 2, "aggregate_layer": 1, "temporal": False}
