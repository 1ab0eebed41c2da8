"""Attention and interaction modules
(SAMNet's attention and interaction units, Jayram et al., 2019; docs/models.md), written plainly.

SAMNet evaluates these same parameterisations in an algebraically fused form (see ``_samnet_cell``);
the plain forms here serve the other models and act as the reference the fused form is tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NEG_INF = -1e9


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` over ``dim`` with positions where ``mask`` is False excluded.

    A row whose mask is all False gives a uniform distribution (never NaN)."""
    if mask is not None:
        scores = scores.masked_fill(~mask, NEG_INF)
    return torch.softmax(scores, dim=dim)


class Attention(nn.Module):
    """key ⊙ query, scored by a bias-free linear dim→1, softmax over items, weighted sum of values.

    forward(query [B, d], keys [B, N, d], values [B, N, dv], mask [B, N] bool | None) →
        (read [B, dv], weights [B, N]).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scores = self.score(keys * query.unsqueeze(1)).squeeze(-1)  # (B, N)
        weights = masked_softmax(scores, mask)
        return torch.bmm(weights.unsqueeze(1), values).squeeze(1), weights


class Interaction(nn.Module):
    """Projected object ⊙ (projected) items, concatenated with the raw items, linear 2d→d.

    forward(obj [B, d], items [B, N, d], items_proj [B, N, d] | None) → [B, N, d].
    With ``project_items=False`` the items are assumed already projected (``items_proj = items``).
    """

    def __init__(self, dim: int, project_items: bool = True) -> None:
        super().__init__()
        self.object_proj = nn.Linear(dim, dim)
        self.item_proj = nn.Linear(dim, dim) if project_items else None
        self.combine = nn.Linear(2 * dim, dim)

    def forward(self, obj: Tensor, items: Tensor) -> Tensor:
        proj = self.item_proj(items) if self.item_proj is not None else items
        mixed = self.object_proj(obj).unsqueeze(1) * proj  # (B, N, d)
        return self.combine(torch.cat([mixed, items], dim=-1))
