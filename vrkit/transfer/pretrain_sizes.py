"""The sizes of ``vrkit transfer pretrain`` per scale and the config tree of each pretraining (IV-CL, image-only,
supervised attributes, supervised object sets), shared by its CATER stages (:mod:`vrkit.transfer.pretrain`) and
its COG stages (:mod:`vrkit.transfer.pretrain_cog`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# pretraining name -> (objective of vrkit.engine.pretrain, with the temporal transformer)
PRETRAININGS = {"ivcl": ("mae", True), "image_only": ("mae", False), "attributes": ("attributes", False),
                "sets": ("sets", False)}


@dataclass
class PretrainSizes:
    preset: str  # IV-CL model preset (vrkit.models.ivcl.PRESETS)
    image_size: int
    frames: int
    pre_n: int  # videos per pretraining epoch
    pre_epochs: int
    pre_minutes: float | None  # each pretraining's wall-clock cap
    batch: int
    ft_n: int  # labelled fine-tuning videos (fixed)
    ft_epochs: int
    ft_minutes: float | None  # each fine-tuning's cap (the step budget is the same for all; see plan)
    test_n: int
    lr: float = 1e-3  # pretraining
    ft_lr: float = 5e-4
    workers: int = 0
    # > 0: a pool stage generates this many epochs of the pretraining stream before any pretraining, and epoch e
    # reads pool epoch e mod pool_epochs (a fixed set of pool_epochs x pre_n videos); 0: fresh every epoch
    pool_epochs: int = 0


SIZES: dict[str, PretrainSizes] = {
    "tiny": PretrainSizes("tiny", 32, 4, pre_n=8, pre_epochs=1, pre_minutes=None, batch=4, ft_n=8, ft_epochs=1,
                          ft_minutes=None, test_n=8, pool_epochs=1),
    "cpu": PretrainSizes("cpu", 64, 16, pre_n=1024, pre_epochs=1000, pre_minutes=20.0, batch=16, ft_n=2000,
                         ft_epochs=6, ft_minutes=15.0, test_n=1000, workers=1, pool_epochs=8),
    "paper": PretrainSizes("paper", 224, 16, pre_n=20000, pre_epochs=100, pre_minutes=None, batch=64, ft_n=20000,
                           ft_epochs=30, ft_minutes=None, test_n=5000, lr=1.5e-4, ft_lr=1e-4, workers=4),
}


def pretrain_tree(s: PretrainSizes, name: str, seed: int, pool: str | None = None) -> dict[str, Any]:
    """The config tree (:func:`vrkit.engine.pretrain.from_tree`) of pretraining ``name`` at sizes ``s``;
    ``pool``: the directory of the video pool of ``seed`` (``s.pool_epochs`` epochs, read in turn); None: fresh
    videos every epoch."""
    objective, temporal = PRETRAININGS[name]
    return {"seed": seed, "objective": objective, "model": {"preset": s.preset, "temporal": temporal},
            "data": {"image_size": s.image_size, "frames": s.frames, "train_n": s.pre_n, "val_n": 0,
                     "batch_size": s.batch, "workers": s.workers, "pool": pool,
                     "pool_epochs": 0 if pool is None else s.pool_epochs},
            "optim": {"lr": s.lr, "warmup_steps": min(100, s.pre_n // s.batch)},
            "trainer": {"max_epochs": s.pre_epochs, "max_minutes": s.pre_minutes, "log_every_n_steps": 10}}


def sizes_settings(s: PretrainSizes) -> dict[str, Any]:
    """``s`` as the settings a results directory records (``vrkit.transfer.recipes.guard_settings``);
    ``pool_epochs`` only when there is a pool, so a directory made before pools existed resumes without one."""
    return {k: v for k, v in asdict(s).items() if k != "pool_epochs" or v}
