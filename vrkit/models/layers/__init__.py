"""Blocks shared by the reasoning models (question encoder, CNN, state encoder, attention, pointing)."""

from vrkit.models.layers.attention import Attention, Interaction, masked_softmax
from vrkit.models.layers.cnn import CogCNN
from vrkit.models.layers.pointing import (
    PointingHead,
    feature_map_kernel,
    grid_points,
    location_kernel,
    point_readout,
    point_target,
)
from vrkit.models.layers.question import QuestionEncoder
from vrkit.models.layers.state import StateEncoder

__all__ = [
    "Attention",
    "CogCNN",
    "Interaction",
    "PointingHead",
    "QuestionEncoder",
    "StateEncoder",
    "feature_map_kernel",
    "grid_points",
    "location_kernel",
    "masked_softmax",
    "point_readout",
    "point_target",
]
