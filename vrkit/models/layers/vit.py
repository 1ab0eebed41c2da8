"""Vision-transformer pieces (Dosovitskiy et al., 2021; MAE, He et al., 2022), written nanoGPT-style: pre-norm
blocks whose attention is ``F.scaled_dot_product_attention``, fixed sine-cosine position codes, and the
patch <-> image reshapes. Used by IV-CL (:mod:`vrkit.models.ivcl`) and its transfer heads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention: x [B, L, d] (+ keep [B, L] bool, False = ignore that key) → [B, L, d]."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        B, L, d = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, h, L, dh)
        mask = None if keep is None else keep[:, None, None, :]  # (B, 1, 1, L): True = may attend
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, L, dh)
        return self.proj(y.transpose(1, 2).reshape(B, L, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x)). x [B, L, d] → [B, L, d]."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.ln1, self.attn = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.ln1(x), keep)
        return x + self.mlp(self.ln2(x))


class Stack(nn.Module):
    """``depth`` blocks then a final LayerNorm: x [B, L, d] (+ keep [B, L]) → [B, L, d]."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, keep)
        return self.norm(x)


def sincos_1d(n: int, dim: int) -> Tensor:
    """Fixed sine-cosine codes of positions 0..n-1: [n, dim] (dim even)."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)  # (half,)
    angle = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]  # (n, half)
    return torch.cat([angle.sin(), angle.cos()], dim=1)


def sincos_2d(side: int, dim: int) -> Tensor:
    """Codes of a side x side grid, row-major: [side², dim]; half the channels code the row, half the column."""
    rows = sincos_1d(side, dim // 2)  # (side, dim/2)
    grid_r = rows[:, None, :].expand(side, side, -1)
    grid_c = rows[None, :, :].expand(side, side, -1)
    return torch.cat([grid_r, grid_c], dim=-1).reshape(side * side, dim)


def patchify(images: Tensor, patch: int) -> Tensor:
    """images [..., C, H, W] → patches [..., N, patch*patch*C], N = (H/patch)(W/patch), row-major."""
    *lead, C, H, W = images.shape
    h, w = H // patch, W // patch
    x = images.reshape(*lead, C, h, patch, w, patch)
    x = x.movedim(-5, -1)  # (..., h, p, w, p, C)
    x = x.movedim(-3, -4)  # (..., h, w, p, p, C)
    return x.reshape(*lead, h * w, patch * patch * C)


def unpatchify(patches: Tensor, patch: int, channels: int = 3) -> Tensor:
    """Inverse of :func:`patchify` for square images: [..., N, p*p*C] → [..., C, H, W]."""
    *lead, N, _ = patches.shape
    side = math.isqrt(N)
    x = patches.reshape(*lead, side, side, patch, patch, channels)  # (..., h, w, p, p, C)
    x = x.movedim(-4, -3)  # (..., h, p, w, p, C)
    x = x.movedim(-1, -5)  # (..., C, h, p, w, p)
    return x.reshape(*lead, channels, side * patch, side * patch)
