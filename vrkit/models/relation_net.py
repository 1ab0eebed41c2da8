"""Relation Network (Santoro et al., NIPS 2017) with the 2S-RN / AVF-RN variants of Messina, Amato & Falchi
(Re-implementing and extending Relation Network for R-CBIR; docs/models.md).

By default it computes what the public PyTorch RN for CLEVR computes (mesnico/RelationNetworks-CLEVR,
``model.py``; docs/rn-reference.md): loaded with that implementation's weights
(:mod:`vrkit.models.rn_clevr`), it gives its outputs. Reads top to bottom:

* CNN: 4 conv layers of 24 kernels 3×3, stride 2, batch norm, ReLU (128×128 → 8×8; 112×112 → 7×7). Each cell
  is an object, tagged with coordinates (x, y) (24 + 2 features).
  State-description variant: the given object vectors are the objects.
* question: LSTM with 128 units over word embeddings of size 32; its final state.
* g: a 4-layer MLP of 256 ReLU units over every ordered pair (o_i, o_j) (i = j included) with the question;
  the outputs are summed over pairs; f: 256 → 256 → answers, ReLU, dropout 0.5 before the answer layer
  (``f_width`` may list several hidden widths: the reference's state-description variant uses [512, 1024]).

Options (default = the reference; the alternative is vrkit's earlier choice, see docs/rn-reference.md):

* ``coordinates``: "linspace" (``linspace(-n/2, n/2, n)`` per axis, -4 … 4 on 8 cells) | "unit"
  ((k + 0.5) / n) | "none".
* ``question_padding``: "full" (the LSTM reads the whole padded row, unpacked; the padding id has a trained
  embedding; the question vector is the state after the last position) | "masked" (packed to each length;
  padding id 0 has a zero embedding).
* ``inversion`` — how a question is reversed (``reverse_question`` here, or the run's
  ``optim.reverse_question``): "row" (the whole padded row, so padding comes first: the reference's
  ``utils.load_tensor_data``) | "tokens" (the words only; padding stays at the end). "row" needs "full".
* ``temporal``: False (every frame answered on its own) | True (COG: an LSTM over frames, width = g width,
  before f, so the memory families are learnable).
* state path: ``object_mask`` "none" (slots zero-padded to ``state_slots`` = 12 and paired like objects) |
  "pairs" (masked slots form no pair); ``state_features`` "given" (the vectors as the data gives them) |
  "reference" (vrkit's 18-feature CLEVR objects turned into the reference's 7:
  :func:`vrkit.models.rn_clevr.reference_objects`).

:data:`WORLD_DEFAULTS` keeps vrkit's earlier choices on COG, which the reference does not cover
(multi-frame sequences, pointing, variable object counts); the run engine applies them before the recipe.

Extensions (Messina et al., for R-CBIR):

* ``q_inject_layer`` k ∈ [0, g_layers]: the question is concatenated to the input of g-layer k (0 = the paper;
  g_layers = the input of f). 2S-RN is k = 2.
* ``aggregate_layer`` a ∈ [1, g_layers] (None = g_layers, the paper): pair features are pooled after
  g-layer a-1, the remaining g layers run on the pooled vector. AVF-RN pools before the question is
  injected (a ≤ k).
* ``aggregation``: "sum" (paper), "avg" (mean over valid pairs) or "learned" (a linear score per pair, softmax
  over the valid pairs, weighted sum: *our reading* of "learned weights").
* :meth:`RelationNet.extract_features` returns the 2S-RN feature (the question-free input of g-layer k) or
  the AVF-RN feature (the vector entering the aggregation point; requires a ≤ k), per pair L2-normalised
  and pooled by mean or max over the pairs (the reference's ``extract.py``), or vrkit's raw pooled vector
  (``pool`` "sum": summed — averaged when ``aggregation`` = "avg" — without normalisation).

Choices beyond the paper (documented):
* pointing (COG): a linear layer from f's last hidden layer to the grid² logits (the COG release's linear
  pointing read-out).
* g-layer 0 on [o_i, o_j, q] is computed as W_i·o_i + W_j·o_j + W_q·q + b (the same linear map as on the
  concatenation, without materialising N² concatenated inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.models._baseline_blocks import (
    QuestionEncoder,
    cell_coords,
    conv_stack,
    frames_float,
    masked_mean,
    masked_softmax,
    reverse_within,
    run_frames,
    state_inputs,
)
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.registry import register

AGGREGATIONS = ("sum", "avg", "learned")
POOLS = ("mean", "max", "sum")
_CHOICES = {"coordinates": ("linspace", "unit", "none"), "question_padding": ("full", "masked"),
            "inversion": ("row", "tokens"), "object_mask": ("none", "pairs"),
            "state_features": ("given", "reference")}


@dataclass
class RelationNetConfig(IOConfig):
    embedding_size: int = 32
    question_units: int = 128
    reverse_question: bool = False  # reverse the question inside the model (see ``inversion``)
    cnn_channels: tuple[int, ...] = (24, 24, 24, 24)  # stride-2 conv layers
    coordinates: str = "linspace"  # linspace | unit | none
    question_padding: str = "full"  # full | masked
    inversion: str = "row"  # row | tokens
    g_layers: int = 4
    g_width: int = 256
    f_width: int | list[int] = 256  # hidden widths of f (one int: two layers of that width)
    f_dropout: float = 0.5
    q_inject_layer: int = 0
    aggregate_layer: int | None = None  # None = g_layers
    aggregation: str = "sum"
    temporal: bool = False  # LSTM over frames before f
    object_mask: str = "none"  # state path: none | pairs
    state_slots: int = 12  # state path, object_mask "none": objects zero-padded to this many slots
    state_features: str = "given"  # state path: given | reference

    def f_widths(self) -> list[int]:
        return [self.f_width] * 2 if isinstance(self.f_width, int) else [int(w) for w in self.f_width]

    def check(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"relation_net: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.inversion == "row" and self.question_padding == "masked":
            raise ValueError("relation_net: inversion 'row' puts the padding first, which needs "
                             "question_padding 'full'")
        if not self.f_widths():
            raise ValueError("relation_net: f_width needs at least one width")


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

    def _first(self, objects: Tensor, q: Tensor | None) -> Tensor:
        """g-layer 0 on every pair without materialising [o_i, o_j(, q)]: [M, N, N, W] before the ReLU."""
        D, w0 = self.obj_dim, self.layers[0].weight
        x = (objects @ w0[:, :D].T).unsqueeze(2) + (objects @ w0[:, D:2 * D].T).unsqueeze(1)
        x = x + self.layers[0].bias
        if q is not None:
            x = x + (q @ w0[:, 2 * D:].T)[:, None, None, :]
        return x

    def pair_inputs(self, objects: Tensor, q: Tensor, layer_idx: int) -> Tensor:
        """The question-free input of g-layer ``layer_idx`` (≤ k and ≤ a, so still per pair) for every ordered
        pair: [M, N, N, D_in] (layer 0: [o_i, o_j]; the question is not needed below layer k)."""
        if layer_idx == 0:
            N = objects.shape[1]
            return torch.cat([objects.unsqueeze(2).expand(-1, -1, N, -1),
                              objects.unsqueeze(1).expand(-1, N, -1, -1)], dim=-1)
        h = torch.relu(self._first(objects, q if self.k == 0 else None))
        for i in range(1, layer_idx):
            layer = self.layers[i]
            h = torch.relu(self._with_question(layer, h, q) if i == self.k else layer(h))
        return h

    def forward(self, objects: Tensor, mask: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """objects [M, N, D], mask [M, N], q [M, Q] -> relation vector [M, W], extras.

        extras: "2s" [M, D2] (question-free input of layer k, pooled), "avf" [M, W] (when a ≤ k),
        "pair_weights" [M, N, N] (learned aggregation).
        """
        extras: dict[str, Tensor] = {}
        pmask = mask.unsqueeze(2) & mask.unsqueeze(1)  # (M, N, N)
        pool2s = "avg" if self.mode == "avg" else "sum"
        if self.k == 0:  # pooled [o_i, o_j] over valid pairs, in closed form: n·Σo (sum) or mean o (avg), twice
            m = mask.to(objects.dtype).unsqueeze(-1)
            n = m.sum(1).clamp(min=1.0)  # (M, 1)
            s = (objects * m).sum(1)  # (M, D)
            pooled = n * s if pool2s == "sum" else s / n
            extras["2s"] = torch.cat([pooled, pooled], dim=-1)
        h = torch.relu(self._first(objects, q if self.k == 0 else None))
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
    #: options the run engine applies per world before the recipe's (vrkit's choices where the reference,
    #: a CLEVR model, has no counterpart: COG's frame sequences, pointing and variable object counts)
    WORLD_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "cog": {"temporal": True, "coordinates": "unit", "question_padding": "masked", "inversion": "tokens",
                "object_mask": "pairs"},
    }

    def __init__(self, config: RelationNetConfig) -> None:
        super().__init__()
        self.config = c = config
        c.check()
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, c.question_units,
                                                bidirectional=False, trained_padding=c.question_padding == "full")
        if c.path == "pixels":
            self.cnn = conv_stack(c.cnn_channels, stride=2, pool=False)
            obj_dim = c.cnn_channels[-1] + (2 if c.coordinates != "none" else 0)
        elif c.path == "state":
            self.cnn = None
            obj_dim = 7 if c.state_features == "reference" else c.object_features
        else:
            raise ValueError(f"relation_net: unknown path {c.path!r} (pixels | state)")
        Q = c.question_units
        self.g = GNet(obj_dim, Q, c)
        self.temporal = nn.LSTM(c.g_width, c.g_width, batch_first=True) if c.temporal else None
        widths = c.f_widths()
        f_in = c.g_width + (Q if c.q_inject_layer == c.g_layers else 0)
        layers: list[nn.Module] = []
        for w in widths:
            layers += [nn.Linear(f_in, w), nn.ReLU()]
            f_in = w
        self.f = nn.Sequential(*layers)
        self.drop = nn.Dropout(c.f_dropout)
        self.point_head = nn.Linear(f_in, c.grid * c.grid) if c.pointing else None
        self.head = nn.Linear(f_in, c.num_answers)

    def invert_question(self, question: Tensor, lengths: Tensor) -> Tensor:
        """The question reversed as ``inversion`` says: the whole padded row ("row") or the words ("tokens")."""
        if self.config.inversion == "row":
            return question.flip(1)
        return reverse_within(question, lengths)

    def encode_question(self, question: Tensor, lengths: Tensor) -> Tensor:
        """question [B, L], lengths [B] -> the LSTM's final state [B, Q] (``reverse_question``,
        ``question_padding`` applied)."""
        if self.config.reverse_question:
            question = self.invert_question(question, lengths)
        if self.config.question_padding == "full":
            lengths = torch.full_like(lengths, question.shape[1])
        return self.question_encoder(question, lengths)[1]

    def objects(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, int, int]:
        """-> objects [B·T, N, D], mask [B·T, N], B, T (the object set g pairs)."""
        c = self.config
        if self.cnn is not None:
            frames = frames_float(batch["frames"])
            B, T = frames.shape[:2]
            maps = run_frames(self.cnn, frames)  # (B·T, C, h, w)
            h, w = maps.shape[-2:]
            obj = maps.flatten(2).transpose(1, 2)  # (B·T, h·w, C)
            if c.coordinates != "none":
                xy = cell_coords(h, w, obj.device, style=c.coordinates).expand(obj.shape[0], -1, -1)
                obj = torch.cat([obj, xy.to(obj.dtype)], dim=-1)
            return obj, torch.ones(obj.shape[:2], dtype=torch.bool, device=obj.device), B, T
        objects, mask = state_inputs(batch)
        B, T, N, _ = objects.shape
        if c.state_features == "reference":
            from vrkit.models.rn_clevr import reference_objects

            objects = reference_objects(objects, mask)
        if c.object_mask == "none":
            objects = objects * mask.unsqueeze(-1).to(objects.dtype)  # the padding slots hold zeros
            slots = c.state_slots
            if mask[..., slots:].any():
                raise ValueError(f"relation_net: a scene has more than state_slots = {slots} objects")
            objects = F.pad(objects[..., :slots, :], (0, 0, 0, max(0, slots - N)))
            N = slots
            mask = torch.ones(objects.shape[:-1], dtype=torch.bool, device=objects.device)
        return objects.reshape(B * T, N, -1), mask.reshape(B * T, N), B, T

    def _relate(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, dict[str, Tensor], int, int]:
        obj, mask, B, T = self.objects(batch)
        q = self.encode_question(batch["question"], batch["question_len"])  # (B, Q)
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
        hidden = self.f(r)  # (B·T, f width)
        out: dict[str, Any] = {"logits": self.head(self.drop(hidden)).view(B, T, -1)}
        if self.point_head is not None:
            out["point_logits"] = self.point_head(hidden).view(B, T, -1)
        if trace:
            out["trace"] = {k: v.reshape(B, T, *v.shape[1:]) for k, v in extras.items()}
        return out

    def extract_features(self, batch: dict[str, Tensor], kind: str = "2s", pool: str = "mean") -> Tensor:
        """Relationship-aware features for R-CBIR: [B, T·D] (CLEVR: T = 1, so [B, D]).

        kind "2s": the question-free input of g-layer ``q_inject_layer`` (2S-RN); kind "avf": the vectors
        entering the aggregation point ``aggregate_layer`` (AVF-RN; needs aggregate_layer ≤ q_inject_layer).
        pool "mean" | "max": each pair's vector L2-normalised, then the mean or max over the valid pairs
        (the reference's ``extract.py``); "sum": vrkit's raw pooled vector (summed, or averaged when
        ``aggregation`` = "avg"; for "avf" the in-network aggregate).
        """
        if kind not in ("2s", "avf"):
            raise ValueError(f"relation_net: feature kind must be '2s' or 'avf', got {kind!r}")
        if pool not in POOLS:
            raise ValueError(f"relation_net: feature pool must be one of {POOLS}, got {pool!r}")
        if kind == "avf" and self.g.a > self.g.k:
            raise ValueError("relation_net: 'avf' features need aggregate_layer <= q_inject_layer "
                             f"(got {self.g.a} > {self.g.k})")
        if pool == "sum":
            _, _, extras, B, T = self._relate(batch)
            return extras[kind].reshape(B, -1)
        obj, mask, B, T = self.objects(batch)
        q = self.encode_question(batch["question"], batch["question_len"])
        qf = q.unsqueeze(1).expand(-1, T, -1).reshape(B * T, -1)
        layer = self.g.k if kind == "2s" else self.g.a
        if kind == "2s" and layer > self.g.a:  # pooled before the question: the pooled vector is the feature
            return self._relate(batch)[2]["2s"].reshape(B, -1)
        pairs = F.normalize(self.g.pair_inputs(obj, qf, layer), p=2, dim=-1).flatten(1, 2)  # (B·T, N², D)
        pmask = (mask.unsqueeze(2) & mask.unsqueeze(1)).flatten(1)  # (B·T, N²)
        if pool == "mean":
            feats = masked_mean(pairs, pmask, dim=1)
        else:
            feats = pairs.masked_fill(~pmask.unsqueeze(-1), float("-inf")).amax(1)
            feats = torch.where(torch.isfinite(feats), feats, torch.zeros_like(feats))
        return feats.reshape(B, -1)

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
