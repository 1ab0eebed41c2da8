"""Point targets on the 7×7 grid of the original COG baseline
(docs/world-cog.md, 'Targets and scoring'), in torch for losses/metrics.

Grid points (px, py) ∈ {0, 1/6, …, 1}², flattened index = row * 7 + col with row = y. Same maths as the numpy
:func:`vrkit.worlds.cog.state.grid_target`.
"""

from __future__ import annotations

import torch

from vrkit.worlds.cog.state import GRID_POINTS, GRID_SIGMA2

POINT_TOLERANCE = 0.15  # a point is correct if its distance to the answer is < 0.15


def grid_points(device: torch.device | str | None = None) -> torch.Tensor:
    """The 49 grid points as (x, y): float32 (49, 2)."""
    return torch.tensor(GRID_POINTS, device=device)


def grid_target(points: torch.Tensor) -> torch.Tensor:
    """Soft grid target of points (..., 2): (..., 49) summing to 1, ∝ exp(-squared distance / 0.02)."""
    d2 = (points.unsqueeze(-2) - grid_points(points.device).to(points.dtype)).pow(2).sum(-1)  # (..., 49)
    return torch.softmax(-d2 / GRID_SIGMA2, dim=-1)


def grid_readout(point_logits: torch.Tensor) -> torch.Tensor:
    """Point read-out of (..., 49) logits: softmax-weighted mean of the grid points, (..., 2)."""
    return torch.softmax(point_logits, dim=-1) @ grid_points(point_logits.device).to(point_logits.dtype)


def point_correct(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Whether predicted points (..., 2) lie within 0.15 of the targets: bool (...)."""
    return (pred - target).pow(2).sum(-1) < POINT_TOLERANCE**2
