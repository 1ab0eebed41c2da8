"""Pointing over a grid × grid lattice (COG convention, docs/world-cog.md, 'Targets and scoring').

Grid points are (x, y) ∈ {0, 1/(g−1), …, 1}², flattened index = row·g + col with row = y (0 at the top).
The COG target is exp(−d²/0.02) normalised over the grid; :func:`location_kernel` maps any (x, y) onto the
grid with that same kernel, so an attention distribution over items with known positions becomes a
distribution over grid points (an item exactly at the target gives exactly the target distribution).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SIGMA2 = 0.02  # COG target width: exp(-d^2 / 0.02)


def grid_points(grid: int, device: torch.device | None = None) -> Tensor:
    """[grid², 2] (x, y) coordinates of the lattice, row-major (index = row·grid + col)."""
    lin = torch.linspace(0.0, 1.0, grid, device=device)
    y, x = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def location_kernel(xy: Tensor, grid: int) -> Tensor:
    """Map positions ``xy [..., 2]`` (normalised, y down) to distributions over the grid: [..., grid²]."""
    pts = grid_points(grid, xy.device).to(xy.dtype)  # (G, 2)
    d2 = ((xy.unsqueeze(-2) - pts) ** 2).sum(-1)  # (..., G)
    return torch.softmax(-d2 / SIGMA2, dim=-1)


def feature_map_kernel(h: int, w: int, grid: int) -> Tensor:
    """[h·w, grid²] map from CNN feature-map cells to grid points.

    When the feature map is grid × grid (COG: 112 px → 7×7) cell (r, c) *is* grid point (r, c): identity.
    Otherwise each cell centre ((c + ½)/w, (r + ½)/h) is spread with :func:`location_kernel`."""
    if h == grid and w == grid:
        return torch.eye(grid * grid)
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return location_kernel(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1), grid)


def point_readout(point_logits: Tensor, grid: int) -> Tensor:
    """COG read-out: softmax over the grid, then the weighted mean of the grid points → [..., 2] (x, y)."""
    probs = torch.softmax(point_logits.float(), dim=-1)
    return probs @ grid_points(grid, point_logits.device)


def point_target(point: Tensor, grid: int) -> Tensor:
    """COG soft target [..., grid²] for (x, y) answers ``point [..., 2]``."""
    return location_kernel(point.float(), grid)


class PointingHead(nn.Module):
    """Grid logits from per-step location evidence plus a linear read of a summary vector.

    forward(summary [B, T, d], evidence [B, T, K, G] (non-negative, each step's mass ≤ 1)) → [B, T, G]:
        logits = α · log(Σ_k softmax(β)_k · evidence_k + ε) + Linear(summary)
    with learned step weights β (init uniform), α (init 1) and a zero-initialised linear d→G, so at
    initialisation softmax(logits) is exactly the (normalised) attended location. d·G + G + K + 1 parameters.
    """

    def __init__(self, dim: int, steps: int, grid: int = 7, eps: float = 1e-3) -> None:
        super().__init__()
        G = grid * grid
        self.step_logits = nn.Parameter(torch.zeros(steps))
        self.scale = nn.Parameter(torch.ones(()))
        self.from_summary = nn.Linear(dim, G)
        nn.init.zeros_(self.from_summary.weight)
        nn.init.zeros_(self.from_summary.bias)
        self.eps = eps

    def forward(self, summary: Tensor, evidence: Tensor) -> Tensor:
        mix = torch.softmax(self.step_logits, dim=0)
        loc = torch.einsum("btkg,k->btg", evidence, mix)  # (B, T, G)
        # SAMNet's write weight do_replace·read_head + do_add_new·write_head can exceed 1
        # (the memory update of Jayram et al., 2019),
        # so a remembered location (slot ← slot·(1 − w) + w·location) can dip below 0; log of a value below
        # -eps was NaN (seen at update 2,930 of a COG run, which then trained on NaN weights). Evidence is a
        # mass: clamp it at 0.
        return self.scale * torch.log(loc.clamp_min(0.0) + self.eps) + self.from_summary(summary)
