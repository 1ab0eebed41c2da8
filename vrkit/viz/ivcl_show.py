"""IV-CL reconstructions as a PNG grid: per video three rows — the frames, what the encoder saw (hidden patches
grey) and the reconstruction (predicted hidden patches, visible patches as given) — one column per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vrkit.utils.atomic import atomic_path


def reconstruction_rows(model: torch.nn.Module, frames: Tensor, seed: int = 0) -> np.ndarray:
    """uint8 [3·B, T, H, W, 3]: original, masked and reconstructed frames of ``frames`` [B, T, 3, H, W] in [0, 1]
    under ``model`` (an :class:`~vrkit.models.ivcl.IVCL` with its decoder), masks drawn from ``seed``."""
    from vrkit.models.layers.vit import patchify, unpatchify

    p = model.config.patch
    model.eval()
    with torch.no_grad():
        out = model(frames, generator=torch.Generator().manual_seed(seed))
        hidden = out["hidden"][..., None]  # (B, T, N, 1)
        patches = patchify(frames, p)
        masked = torch.where(hidden, torch.full_like(patches, 0.5), patches)
        recon = torch.where(hidden, model.pixels(frames, out["pred"]), patches)
    rows = [frames, unpatchify(masked, p), unpatchify(recon, p)]  # 3 x (B, T, 3, H, W)
    grid = torch.stack(rows, dim=1).flatten(0, 1)  # (3B, T, 3, H, W)
    return (grid.permute(0, 1, 3, 4, 2).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def write_grid(rows: np.ndarray, out: str | Path, scale: int = 2, gap: int = 2) -> Path:
    """Tile uint8 [R, C, H, W, 3] images into one PNG (nearest-neighbour ``scale``, ``gap`` white pixels)."""
    from PIL import Image

    R, C, H, W, _ = rows.shape
    h, w = H * scale, W * scale
    canvas = np.full((R * (h + gap) + gap, C * (w + gap) + gap, 3), 255, np.uint8)
    for r in range(R):
        for c in range(C):
            tile = rows[r, c].repeat(scale, axis=0).repeat(scale, axis=1)
            y, x = gap + r * (h + gap), gap + c * (w + gap)
            canvas[y:y + h, x:x + w] = tile
    out = Path(out)
    with atomic_path(out) as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")
    return out
