"""CNN+LSTM baseline (the CLEVR paper's CNN+LSTM, Johnson et al. 2017), extended to frame sequences.

Reads top to bottom. The CLEVR reference baseline, restated:

* question: word embedding 300, a 2-layer LSTM of 256 units; the top layer's state at the last word.
* image: CNN feature maps → 1×1 conv to 512 + ReLU → max-pool → flattened.
  The reference used frozen ResNet-101 conv4 features (14×14×1024 → 7×7×512); ours is *a choice*: the
  trainable COG-style 4-block CNN (32, 64, 64, 128) as stem, and an adaptive max-pool to ``pool_size`` ×
  ``pool_size`` (3: 112×112 → 7×7 → 3×3, as a 2×2/2 max-pool would give) so any image size works.
  State path: a linear F → 512 with ReLU per object, max-pooled over the valid objects.
* classifier: [question, image] → 1024 (ReLU) → answers.

Sequences (COG; *a choice*): each frame's [question, image] vector goes through the 1024 hidden layer, then an
LSTM over frames (``temporal_units``), then the answer layer; an answer is read out at every frame.
With ``temporal`` = False the LSTM is skipped and every frame is answered on its own (the reference; CLEVR).
Pointing (COG): a linear layer from the same last hidden vector to the grid² logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.models._baseline_blocks import (
    NEG,
    QuestionEncoder,
    conv_stack,
    frames_float,
    run_frames,
    state_inputs,
)
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.registry import register


@dataclass
class CnnLstmConfig(IOConfig):
    embedding_size: int = 300
    question_units: int = 256
    question_layers: int = 2
    cnn_channels: tuple[int, ...] = (32, 64, 64, 128)
    proj_dim: int = 512
    pool_size: int = 3
    fc_dim: int = 1024
    temporal: bool = True
    temporal_units: int = 512
    dropout: float = 0.0


@register("cnn_lstm")
class CnnLstm(ReasoningModel):
    """forward(batch) -> logits [B, T, A], point_logits [B, T, grid²] (when ``pointing``), trace (optional).

    trace: image_features [B, T, D_img] (the pooled visual vector per frame).
    """

    Config = CnnLstmConfig

    def __init__(self, config: CnnLstmConfig) -> None:
        super().__init__()
        self.config = c = config
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, c.question_units,
                                                bidirectional=False, num_layers=c.question_layers)
        if c.path == "pixels":
            self.visual = nn.Sequential(conv_stack(c.cnn_channels, pool=True),
                                        nn.Conv2d(c.cnn_channels[-1], c.proj_dim, 1), nn.ReLU())
            img_dim = c.proj_dim * c.pool_size * c.pool_size
        elif c.path == "state":
            self.visual = nn.Sequential(nn.Linear(c.object_features, c.proj_dim), nn.ReLU())
            img_dim = c.proj_dim
        else:
            raise ValueError(f"cnn_lstm: unknown path {c.path!r} (pixels | state)")
        self.fc = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(c.question_units + img_dim, c.fc_dim),
                                nn.ReLU())
        self.temporal = nn.LSTM(c.fc_dim, c.temporal_units, batch_first=True) if c.temporal else None
        out_dim = c.temporal_units if c.temporal else c.fc_dim
        self.point_head = nn.Linear(out_dim, c.grid * c.grid) if c.pointing else None
        self.head = nn.Linear(out_dim, c.num_answers)

    def image_features(self, batch: dict[str, Tensor]) -> Tensor:
        """-> [B, T, D_img]."""
        c = self.config
        if c.path == "pixels":
            frames = frames_float(batch["frames"])
            B, T = frames.shape[:2]
            maps = F.adaptive_max_pool2d(run_frames(self.visual, frames), c.pool_size)  # (B·T, P, s, s)
            return maps.reshape(B, T, -1)
        objects, mask = state_inputs(batch)
        emb = self.visual(objects).masked_fill(~mask.unsqueeze(-1), NEG)  # (B, T, N, P)
        pooled = emb.max(dim=2).values
        return torch.where(mask.any(-1, keepdim=True), pooled, torch.zeros_like(pooled))

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        _, q = self.question_encoder(batch["question"], batch["question_len"])  # (B, Q)
        img = self.image_features(batch)  # (B, T, D_img)
        B, T = img.shape[:2]
        h = self.fc(torch.cat([q.unsqueeze(1).expand(-1, T, -1), img], dim=-1))  # (B, T, fc_dim)
        if self.temporal is not None:
            h = self.temporal(h)[0]
        out: dict[str, Any] = {"logits": self.head(h)}
        if self.point_head is not None:
            out["point_logits"] = self.point_head(h)
        if trace:
            out["trace"] = {"image_features": img}
        return out

    def units(self) -> dict[str, nn.Module]:
        u: dict[str, nn.Module] = {
            "question_encoder": self.question_encoder,
            "cnn" if self.config.path == "pixels" else "state_encoder": self.visual,
            "fc": self.fc,
        }
        if self.temporal is not None:
            u["temporal"] = self.temporal
        if self.point_head is not None:
            u["pointing"] = self.point_head
        u["head"] = self.head
        return u
