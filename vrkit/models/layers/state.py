"""State-path encoder: a set of symbolic objects per frame → a set of feature vectors."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class StateEncoder(nn.Module):
    """Linear embedding of per-object attribute vectors.

    forward(objects [B, T, N, F], object_mask [B, T, N] bool or None) →
        features [B, T, N, dim] (rows of absent objects are zeroed), mask [B, T, N] bool.
    COG objects: colour one-hot (21) + shape one-hot (32) + (x, y) = 55 features;
    CLEVR objects: 3D coordinates + size/colour/material/shape one-hots.
    """

    def __init__(self, num_features: int, dim: int = 128) -> None:
        super().__init__()
        self.embed = nn.Linear(num_features, dim)

    def forward(self, objects: Tensor, object_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.embed(objects)  # (B, T, N, d)
        if object_mask is None:
            object_mask = torch.ones(objects.shape[:-1], dtype=torch.bool, device=objects.device)
        object_mask = object_mask.bool()
        return x * object_mask.unsqueeze(-1).to(x.dtype), object_mask
