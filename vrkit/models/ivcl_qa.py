"""A question-conditioned head on IV-CL's encoder for COG (docs/ivcl.md, 'COG with the combination split').

:class:`QuestionClipClassifier` is :class:`~vrkit.models.ivcl_heads.ClipClassifier` (per-frame encoder →
temporal transformer over the clip's slots) with a question: the question's words (embedded, with a 1-D
position code), every context slot of the clip and one answer token per frame (a learned query plus the
frame's time code) go through a small transformer together, and a linear layer turns each frame's answer
token into logits over COG's answer words. The answer tokens see the whole clip, as IV-CL's temporal
transformer does; COG's answer at frame t depends only on frames up to t, so later frames are distractors.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vrkit.models.ivcl import IVCL
from vrkit.models.ivcl_heads import ClipClassifier
from vrkit.models.layers.vit import Stack, sincos_1d


class QuestionClipClassifier(ClipClassifier):
    """frames [B, T, 3, H, W] + question [B, L] (0 = pad) + question_len [B] → logits [B, T, answers]."""

    def __init__(self, backbone: IVCL, vocab: int, answers: int, depth: int = 2,
                 temporal_depth: int | None = None) -> None:
        super().__init__(backbone, answers, temporal_depth)
        c = self.encoder.config
        del self.pool  # the answer tokens read the clip instead of one pooled query
        self.words = nn.Embedding(vocab, c.dim)
        self.kinds = nn.Parameter(0.02 * torch.randn(3, c.dim))  # question word, clip slot, answer token
        self.query = nn.Parameter(0.02 * torch.randn(c.dim))
        self.reason = Stack(c.dim, depth, c.heads, c.mlp_ratio)

    def forward(self, frames: Tensor, question: Tensor, question_len: Tensor) -> Tensor:  # type: ignore[override]
        slots = self.temporal(self.encoder.encode(frames)[0])  # (B, T, k, d)
        B, T, k, d = slots.shape
        L = question.shape[1]
        words = self.words(question) + sincos_1d(L, d).to(slots) + self.kinds[0]  # (B, L, d)
        clip = slots.reshape(B, T * k, d) + self.kinds[1]
        answer = (self.query + sincos_1d(T, d).to(slots) + self.kinds[2]).expand(B, T, d)
        keep = torch.cat([torch.arange(L, device=question.device)[None] < question_len[:, None],
                          torch.ones(B, T * k + T, dtype=torch.bool, device=question.device)], dim=1)
        out = self.reason(torch.cat([words, clip, answer], dim=1), keep)[:, -T:]  # (B, T, d)
        return self.head(out)
