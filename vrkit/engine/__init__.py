"""Training and evaluation engine (PyTorch Lightning): typed configs, datamodules, the task module, runs."""

from vrkit.engine.config import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    SourceConfig,
    TrainConfig,
    TrainerConfig,
    dump_yaml,
    load_config,
    to_dict,
)

__all__ = [
    "DataConfig", "ModelConfig", "OptimConfig", "SourceConfig", "TrainConfig", "TrainerConfig", "dump_yaml",
    "load_config", "to_dict",
]
