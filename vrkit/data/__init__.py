"""torch data layer: COG and CLEVR datasets (files or a seeded stream), batch-contract collate, samplers, targets."""

from vrkit.data.clevr import ClevrDataset, collate_clevr
from vrkit.data.clevr_vocab import ClevrVocab
from vrkit.data.cog import CogFileDataset, CogStreamDataset, encode_example, last_class_answer
from vrkit.data.collate import collate_cog
from vrkit.data.samplers import balanced_weights
from vrkit.data.targets import grid_points, grid_readout, grid_target, point_correct

__all__ = [
    "ClevrDataset",
    "ClevrVocab",
    "CogFileDataset",
    "CogStreamDataset",
    "balanced_weights",
    "collate_clevr",
    "collate_cog",
    "encode_example",
    "grid_points",
    "grid_readout",
    "grid_target",
    "last_class_answer",
    "point_correct",
]
