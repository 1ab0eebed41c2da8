"""Relation Network (Santoro et al., NIPS 2017) with the 2S-RN / AVF-RN variants of Messina et al. (seed 002).

Reads top to bottom. Facts of the paper (CLEVR from pixels), restated:

* CNN: 4 conv layers of 24 kernels 3×3, stride 2, batch norm, ReLU (128×128 → 8×8; 112×112 → 7×7). Each cell
  is an object, tagged with its normalised (x, y) coordinates (24 + 2 features).
  State-description variant: the given object vectors are the objects (masked objects form no pair).
* question: LSTM with 128 units over word embeddings (size 32: *a choice*, not given); the final state.
  ``reverse_question`` feeds the words in reverse order (+13 points in the re-implementation; off by default).
* g: a 4-layer MLP of 256 ReLU units over every ordered pair (o_i, o_j) (i = j included) with the question;
  the outputs are summed over pairs; f: 256 → 256 → answers, ReLU, dropout 0.5 before the answer layer.

Extensions (seed 002, for R-CBIR):

* ``q_inject_layer`` k ∈ [0, g_layers]: the question is concatenated to the input of g-layer k (0 = the paper;
  g_layers = the input of f). 2S-RN is k = 2.
* ``aggregate_layer`` a ∈ [1, g_layers] (None = g_layers, the paper): pair features are pooled after
  g-layer a-1, the remaining g layers run on the pooled vector. AVF-RN pools before the question is
  injected (a ≤ k).
* ``aggregation``: "sum" (paper), "avg" (mean over valid pairs) or "learned" (a linear score per pair, softmax
  over the valid pairs, weighted sum: *our reading* of "learned weights").
* :meth:`RelationNet.extract_features` returns the 2S-RN feature (the question-free representation entering
  g-layer k, pooled over pairs by sum — by mean when ``aggregation`` = "avg") or the AVF-RN feature
  (the pooled vector at the aggregation point; requires a ≤ k).

Choices beyond the paper (documented):
* COG sequences: the per-frame relation vector goes through an LSTM over frames (``temporal``, width = g
  width) before f, so that the memory families are learnable; an answer is read out at every frame.
  With ``temporal`` = False every frame is answered on its own (the paper's model; use it for CLEVR).
* pointing (COG): a linear layer from f's second hidden layer to the grid² logits (the COG release's linear
  pointing read-out).
* g-layer 0 on [o_i, o_j, q] is computed as W_i·o_i + W_j·o_j + W_q·q + b (the same linear map as on the
  concatenation, without materialising N² concatenated inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.models._baseline_blocks import (
    QuestionEncoder,
    cell_coords,
    conv_stack,
    frames_float,
    masked_mean,
    masked_softmax,
    run_frames,
    state_inputs,
)
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.registry import register

AGGREGATIONS = ("sum", "avg", "learned")


@dataclass
class RelationNetConfig(IOConfig):
    embedding_size: int = 32
    question_units: int = 128
    reverse_question: bool = False
    cnn_channels: tuple[int, ...] = (24, 24, 24, 24)  # stride-2 conv layers
    coordinates: bool = True  # tag CNN objects with (x, y)
    g_layers: int = 4
    g_width: int = 256
    f_width: int = 256
    f_dropout: float = 0.5
    q_inject_layer: int = 0
    aggregate_layer: int | None = None  # None = g_layers
    aggregation: str = "sum"
    temporal: bool = True  # LSTM over frames before f


class GNet(nn.Module):
    """g over object pairs with question injection and in-network aggregation (see module docstring)."""

    def __init__(self, obj_dim: int, q_dim: int, c: RelationNetConfig) -> None:
        super().__init__()
        self.n, self.k = c.g_layers, c.q_inject_layer
        self.a = c.g_layers if c.aggregate_layer is None else c.aggregate_layer
        if not 0 <= self.k <= self.n:
            raise ValueError(f"relation_net: q_inject_layer must be in [0, {self.n}], got {self.k}")
        if not 1 <= self.a <= self.n:
            raise ValueError(f"relation_net: aggregate_layer must be in [1, {self.n}], got {self.a}")
        if c.aggregation not in AGGREGATIONS:
            raise ValueError(f"relation_net: aggregation must be one of {AGGREGATIONS}, "
                             f"got {c.aggregation!r}")
        self.mode = c.aggregation
        self.obj_dim, self.q_dim, self.width = obj_dim, q_dim, c.g_width
        self.layers = nn.ModuleList()
        for layer in range(self.n):
            d_in = 2 * obj_dim if layer == 0 else c.g_width
            self.layers.append(nn.Linear(d_in + (q_dim if layer == self.k else 0), c.g_width))
        self.pair_score = nn.Linear(c.g_width, 1) if self.mode == "learned" else None

    def _pool(self, h: Tensor, pmask: Tensor, mode: str) -> tuple[Tensor, Tensor | None]:
        """h [M, N, N, D], pmask [M, N, N] -> pooled [M, D] (+ pair weights [M, N, N] for "learned")."""
        if mode == "sum":
            return (h * pmask.unsqueeze(-1).to(h.dtype)).sum((1, 2)), None
        if mode == "avg":
            return masked_mean(h.flatten(1, 2), pmask.flatten(1), dim=1), None
        M = h.shape[0]
        w = masked_softmax(self.pair_score(h).squeeze(-1).reshape(M, -1), pmask.reshape(M, -1))
        return torch.einsum("mp,mpd->md", w, h.flatten(1, 2)), w.view_as(pmask)

    def _with_question(self, layer: nn.Linear, h: Tensor, q: Tensor) -> Tensor:
        """layer([h, q]) with q broadcast over the pair axes of h: h [M, ..., D], q [M, Q]."""
        d = layer.in_features - self.q_dim
        qt = q @ layer.weight[:, d:].T  # (M, W)
        qt = qt.view(qt.shape[0], *([1] * (h.dim() - 2)), qt.shape[-1])
        return h @ layer.weight[:, :d].T + qt + layer.bias

    def forward(self, objects: Tensor, mask: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """objects [M, N, D], mask [M, N], q [M, Q] -> relation vector [M, W], extras.

        extras: "2s" [M, D2] (question-free input of layer k, pooled), "avf" [M, W] (when a ≤ k),
        "pair_weights" [M, N, N] (learned aggregation).
        """
        extras: dict[str, Tensor] = {}
        pmask = mask.unsqueeze(2) & mask.unsqueeze(1)  # (M, N, N)
        pool2s = "avg" if self.mode == "avg" else "sum"
        D = self.obj_dim
        w0 = self.layers[0].weight
        if self.k == 0:  # pooled [o_i, o_j] over valid pairs, in closed form: n·Σo (sum) or mean o (avg), twice
            m = mask.to(objects.dtype).unsqueeze(-1)
            n = m.sum(1).clamp(min=1.0)  # (M, 1)
            s = (objects * m).sum(1)  # (M, D)
            pooled = n * s if pool2s == "sum" else s / n
            extras["2s"] = torch.cat([pooled, pooled], dim=-1)
        # layer 0 without materialising [o_i, o_j, q]: (M, N, 1, W) + (M, 1, N, W) (+ (M, 1, 1, W))
        x = (objects @ w0[:, :D].T).unsqueeze(2) + (objects @ w0[:, D:2 * D].T).unsqueeze(1)
        x = x + self.layers[0].bias
        if self.k == 0:
            x = x + (q @ w0[:, 2 * D:].T)[:, None, None, :]
        h = torch.relu(x)
        for layer_idx in range(1, self.n + 1):
            if layer_idx == self.a:
                h, w = self._pool(h, pmask, self.mode)
                if w is not None:
                    extras["pair_weights"] = w
                if self.a <= self.k:
                    extras["avf"] = h
            if layer_idx == self.k:
                extras["2s"] = h if h.dim() == 2 else self._pool(h, pmask, pool2s)[0]
            if layer_idx == self.n:
                break
            layer = self.layers[layer_idx]
            h = torch.relu(self._with_question(layer, h, q) if layer_idx == self.k else layer(h))
        return h, extras


@register("relation_net")
class RelationNet(ReasoningModel):
    """forward(batch) -> logits [B, T, A], point_logits [B, T, grid²] (when ``pointing``), trace (optional).

    trace: "2s" [B, T, D2], "avf" [B, T, W] (when defined), "pair_weights" [B, T, N, N] (learned aggregation).
    """

    Config = RelationNetConfig

    def __init__(self, config: RelationNetConfig) -> None:
        super().__init__()
        self.config = c = config
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, c.question_units,
                                                bidirectional=False, reverse=c.reverse_question)
        if c.path == "pixels":
            self.cnn = conv_stack(c.cnn_channels, stride=2, pool=False)
            obj_dim = c.cnn_channels[-1] + (2 if c.coordinates else 0)
        elif c.path == "state":
            self.cnn = None
            obj_dim = c.object_features
        else:
            raise ValueError(f"relation_net: unknown path {c.path!r} (pixels | state)")
        Q = c.question_units
        self.g = GNet(obj_dim, Q, c)
        self.temporal = nn.LSTM(c.g_width, c.g_width, batch_first=True) if c.temporal else None
        f_in = c.g_width + (Q if c.q_inject_layer == c.g_layers else 0)
        self.f = nn.Sequential(nn.Linear(f_in, c.f_width), nn.ReLU(),
                               nn.Linear(c.f_width, c.f_width), nn.ReLU())
        self.drop = nn.Dropout(c.f_dropout)
        self.point_head = nn.Linear(c.f_width, c.grid * c.grid) if c.pointing else None
        self.head = nn.Linear(c.f_width, c.num_answers)

    def objects(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, int, int]:
        """-> objects [B·T, N, D], mask [B·T, N], B, T."""
        if self.cnn is not None:
            frames = frames_float(batch["frames"])
            B, T = frames.shape[:2]
            maps = run_frames(self.cnn, frames)  # (B·T, C, h, w)
            h, w = maps.shape[-2:]
            obj = maps.flatten(2).transpose(1, 2)  # (B·T, h·w, C)
            if self.config.coordinates:
                xy = cell_coords(h, w, obj.device).expand(obj.shape[0], -1, -1)
                obj = torch.cat([obj, xy], dim=-1)
            return obj, torch.ones(obj.shape[:2], dtype=torch.bool, device=obj.device), B, T
        objects, mask = state_inputs(batch)
        B, T, N, F = objects.shape
        return objects.reshape(B * T, N, F), mask.reshape(B * T, N), B, T

    def _relate(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, dict[str, Tensor], int, int]:
        obj, mask, B, T = self.objects(batch)
        _, q = self.question_encoder(batch["question"], batch["question_len"])  # (B, Q)
        qf = q.unsqueeze(1).expand(-1, T, -1).reshape(B * T, -1)
        r, extras = self.g(obj, mask, qf)  # (B·T, W)
        return r, qf, extras, B, T

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        c = self.config
        r, qf, extras, B, T = self._relate(batch)
        if self.temporal is not None:
            r = self.temporal(r.view(B, T, -1))[0].reshape(B * T, -1)
        if c.q_inject_layer == c.g_layers:
            r = torch.cat([r, qf], dim=-1)
        hidden = self.f(r)  # (B·T, f_width)
        out: dict[str, Any] = {"logits": self.head(self.drop(hidden)).view(B, T, -1)}
        if self.point_head is not None:
            out["point_logits"] = self.point_head(hidden).view(B, T, -1)
        if trace:
            out["trace"] = {k: v.reshape(B, T, *v.shape[1:]) for k, v in extras.items()}
        return out

    def extract_features(self, batch: dict[str, Tensor], kind: str = "2s") -> Tensor:
        """Relationship-aware features for R-CBIR: [B, T·D] (CLEVR: T = 1, so [B, D]).

        kind "2s": the question-free input of g-layer ``q_inject_layer``, pooled over pairs (2S-RN);
        kind "avf": the pooled vector at ``aggregate_layer`` (AVF-RN; needs aggregate_layer ≤ q_inject_layer).
        """
        if kind not in ("2s", "avf"):
            raise ValueError(f"relation_net: feature kind must be '2s' or 'avf', got {kind!r}")
        _, _, extras, B, T = self._relate(batch)
        if kind not in extras:
            raise ValueError("relation_net: 'avf' features need aggregate_layer <= q_inject_layer "
                             f"(got {self.g.a} > {self.g.k})")
        return extras[kind].reshape(B, -1)

    def reset_head(self, num_answers: int) -> None:
        self.head = nn.Linear(self.config.f_width, num_answers).to(self.head.weight.device)
        self.config.num_answers = num_answers

    def units(self) -> dict[str, nn.Module]:
        u: dict[str, nn.Module] = {"question_encoder": self.question_encoder}
        if self.cnn is not None:
            u["cnn"] = self.cnn
        for i, layer in enumerate(self.g.layers):
            u[f"g{i}"] = layer
        if self.g.pair_score is not None:
            u["g_aggregation"] = self.g.pair_score
        if self.temporal is not None:
            u["temporal"] = self.temporal
        u["f"] = self.f
        if self.point_head is not None:
            u["pointing"] = self.point_head
        u["head"] = self.head
        return u
