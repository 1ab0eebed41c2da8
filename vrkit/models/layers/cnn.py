"""The COG image encoder CNN (Yang et al., 2018; SAMNet's image encoder, docs/models.md) and its
feature-map geometry."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class CogCNN(nn.Module):
    """Four blocks conv3×3 (padding 1) → max-pool 2 → batch norm → ReLU; the last block has a
    non-affine batch norm and no ReLU. Default channels 3→32→64→64→128 (130,496 parameters).

    forward(images [M, C, H, W]) → features [M, h·w, channels[-1]] with h = H // 16, w = W // 16
    (112×112 → 7×7 = 49 locations; 32×32 → 2×2; 128×128 → 8×8). Locations are flattened row-major
    (index = row·w + col, row 0 at the top). Any H, W ≥ 16 works.
    """

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (32, 64, 64, 128),
                 channels_last: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for i, ch in enumerate(channels):
            last = i == len(channels) - 1
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(ch, affine=not last)]
            if not last:
                layers.append(nn.ReLU(inplace=True))
            prev = ch
        self.net = nn.Sequential(*layers)
        self.out_channels = prev
        self.num_pools = len(channels)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def feature_hw(self, height: int, width: int | None = None) -> tuple[int, int]:
        """Spatial size (h, w) of the output feature map for an input of ``height × width``."""
        width = height if width is None else width
        f = 2**self.num_pools
        return height // f, width // f

    def forward(self, images: Tensor) -> Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        x = self.net(images)  # (M, C, h, w)
        return x.flatten(2).transpose(1, 2)  # (M, h·w, C)
