"""MAC: Memory, Attention and Composition (Hudson & Manning, ICLR 2018), over a set of vectors per frame.

By default this computes what the PyTorch MAC of IBM mi-prometheus computes (``miprometheus/models/mac/``,
class ``MACNetwork``, configuration ``configs/mac/mac_clevr.yaml``; docs/mac-reference.md): loaded with its
weights through ``vrkit convert mi-prometheus`` it gives its outputs. Reads top to bottom:

* question: word embedding (300), bidirectional LSTM of d per direction (packed: each direction reads exactly
  the question) → q = [last forward state, last backward state] (2d); contextual words cw_s = W[fw_s, bw_s] (d;
  a position past the question's end is the projection of zeros, i.e. the bias).
* knowledge base: ``features`` path: precomputed ResNet-101 conv4 maps [1024, 14, 14] through two 3×3 conv
  layers of d with ELU (the reference's image unit); ``pixels``: vrkit's trainable COG-style CNN stem
  (32, 64, 64, 128) before the same two layers (*a choice*, for machines without a ResNet); ``state``: a
  linear F → d with ELU per object (masked objects are never attended). k' = W_k k (the kb projection).
* control unit, step i: q_i = W_i q + b_i (2d → d, one per step); cq = W[c_{i-1}, q_i]; word scores
  w·(cq ⊙ cw_s), softmax over every position up to the batch's longest question (the reference does not mask
  the padding of shorter questions); c_i = Σ_s cv_s cw_s.
* read unit: I = (W_m m_{i-1}) ⊙ k'; I' = W[I, k]; scores w·(c_i ⊙ I'); r_i = Σ rv · k.
* write unit: m_info = W[r_i, m_{i-1}]; optional self-attention (``self_attention``): scores w·(c_i ⊙ c_j)
  over the earlier controls *including the initial one*, a weighted sum of the memories m_0 … m_{i-1},
  m_i = W_sa sum + W_info m_info (both biased); optional memory gate σ(w·c_i) (``memory_gate``).
* output: [q, m_p] → d (ELU) → answers. (The reference concatenates [m_p, q]; the converter permutes the
  first layer's columns, which is exact, so that the memory stays the last d inputs for feature extraction.)
* c_0, m_0 are learned (zero-initialised). Training: variational dropout (``dropout``), one mask per forward
  on the control states and one on the memory states, applied to c_0, m_0 and to every new state.
* initialisation (``init="reference"``): Xavier-uniform weights with zero bias in the control, read, write and
  output units and the kb projection; Kaiming-uniform, zero bias, for the two conv layers and the first output
  layer; PyTorch defaults for the embedding, the LSTM and the word projection (as in the reference). No
  reference counterpart (*a choice*): the state path's object embedding is Xavier with zero bias, the pixel
  stem and the pointing head keep PyTorch's defaults.

Options that keep vrkit's earlier MAC (docs/mac-reference.md): ``sizes="compact"`` (LSTM d/2 per direction,
no word projection, q of d, per-step layers d → d), ``word_attention="masked"``,
``self_attention_variant="earlier"`` (bias-free projection, attends over the earlier steps' memories only),
``dropout_placement="kb_output"`` (ordinary dropout on the knowledge base and before the classifier),
``init="torch"``.

Sequences (COG; *a choice*, the reference has no COG counterpart): frames are processed in order, p steps
each. The control states depend only on the question, so they are computed once and reused for every frame;
the memory is carried across frames (frame t starts from the final memory of frame t-1, frame 0 from m_0); an
answer is read out after every frame. CLEVR is the T = 1 case.

Pointing (COG; *a choice*): a dedicated read over the knowledge base with the query W[q, m_p] gives a score per
item; grid paths: the score map is taken on the grid (adaptive average pooling when the map is not grid×grid);
state: the softmax over objects is spread onto the grid with the COG target bump at each object's (x, y)
(``xy_features``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.errors import InputError
from vrkit.models._baseline_blocks import (
    QuestionEncoder,
    conv_stack,
    frames_float,
    item_probs_to_point_logits,
    masked_softmax,
    object_xy,
    run_frames,
    state_inputs,
    word_mask,
)
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.registry import register

PATHS = ("pixels", "state", "features")


@dataclass
class MACConfig(IOConfig):
    d: int = 512
    steps: int = 12
    embedding_size: int = 300
    cnn_channels: tuple[int, ...] = (32, 64, 64, 128)  # pixels: stem before the two d-wide conv layers
    feature_channels: int = 1024  # features: channels of the precomputed maps (ResNet-101 conv4)
    dropout: float = 0.15
    self_attention: bool = False
    memory_gate: bool = False
    sizes: Literal["reference", "compact"] = "reference"
    word_attention: Literal["unmasked", "masked"] = "unmasked"
    self_attention_variant: Literal["reference", "earlier"] = "reference"
    dropout_placement: Literal["variational", "kb_output"] = "variational"
    init: Literal["reference", "torch"] = "reference"
    xy_features: tuple[int, int] = (-2, -1)  # state path pointing: indices of the normalised (x, y) features


_CHOICES = {"sizes": ("reference", "compact"), "word_attention": ("unmasked", "masked"),
            "self_attention_variant": ("reference", "earlier"), "dropout_placement": ("variational", "kb_output"),
            "init": ("reference", "torch")}


class ControlUnit(nn.Module):
    """All p control states: words [B, L, d], q [B, qd] -> controls [B, p, d], word attention [B, p, L].

    ``c0`` [B, d] is the (possibly dropped-out) initial state; ``mask`` [B, d] | None multiplies every new
    state before it feeds the next step (variational dropout)."""

    def __init__(self, d: int, steps: int, q_dim: int) -> None:
        super().__init__()
        self.c0 = nn.Parameter(torch.zeros(d))
        self.q_step = nn.ModuleList(nn.Linear(q_dim, d) for _ in range(steps))
        self.cq = nn.Linear(2 * d, d)
        self.score = nn.Linear(d, 1)

    def forward(self, words: Tensor, q: Tensor, wmask: Tensor, c0: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        c = c0
        controls, attns = [], []
        for lin in self.q_step:
            cq = self.cq(torch.cat([c, lin(q)], dim=-1))
            cv = masked_softmax(self.score(cq.unsqueeze(1) * words).squeeze(-1), wmask)  # (B, L)
            c = torch.einsum("bl,bld->bd", cv, words)
            if mask is not None:
                c = c * mask
            controls.append(c)
            attns.append(cv)
        return torch.stack(controls, 1), torch.stack(attns, 1)


class ReadUnit(nn.Module):
    """One read: memory [B, d], control [B, d], kb [B, N, d] (+ projection) -> r [B, d], attention [B, N]."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.mem = nn.Linear(d, d)
        self.kb = nn.Linear(d, d)
        self.combine = nn.Linear(2 * d, d)
        self.score = nn.Linear(d, 1)

    def forward(self, m: Tensor, c: Tensor, kb: Tensor, kb_proj: Tensor,
                mask: Tensor) -> tuple[Tensor, Tensor]:
        inter = self.mem(m).unsqueeze(1) * kb_proj  # (B, N, d)
        inter = self.combine(torch.cat([inter, kb], dim=-1))
        rv = masked_softmax(self.score(c.unsqueeze(1) * inter).squeeze(-1), mask)  # (B, N)
        return torch.einsum("bn,bnd->bd", rv, kb), rv


class WriteUnit(nn.Module):
    """m_i from r_i, m_{i-1} (+ self-attention, + memory gate, when enabled).

    ``past_c`` / ``past_m``: the controls and memories the self-attention ranges over (the caller keeps them:
    reference variant c_0 … c_{i-1} and m_0 … m_{i-1}; earlier variant c_1 … c_{i-1} and m_1 … m_{i-1})."""

    def __init__(self, d: int, self_attention: bool, memory_gate: bool, variant: str = "reference") -> None:
        super().__init__()
        self.variant = variant
        self.m0 = nn.Parameter(torch.zeros(d))  # initial memory (learned)
        self.info = nn.Linear(2 * d, d)
        self.sa_score = nn.Linear(d, 1) if self_attention else None
        ref = variant == "reference"
        self.sa_mem = nn.Linear(d, d, bias=ref) if self_attention else None
        self.sa_info = nn.Linear(d, d) if self_attention and ref else None
        self.gate = nn.Linear(d, 1) if memory_gate else None

    def forward(self, r: Tensor, m: Tensor, c: Tensor, past_c: list[Tensor], past_m: list[Tensor]) -> Tensor:
        new = self.info(torch.cat([r, m], dim=-1))
        if self.sa_score is not None and past_c:
            pc, pm = torch.stack(past_c, 1), torch.stack(past_m, 1)  # (B, i, d)
            sa = torch.softmax(self.sa_score(c.unsqueeze(1) * pc).squeeze(-1), dim=-1)
            read = self.sa_mem(torch.einsum("bi,bid->bd", sa, pm))
            new = read + (self.sa_info(new) if self.sa_info is not None else new)
        if self.gate is not None:
            g = torch.sigmoid(self.gate(c))
            new = g * m + (1 - g) * new
        return new


@register("mac")
class MAC(ReasoningModel):
    """forward(batch) -> logits [B, T, A], point_logits [B, T, grid²] (when ``pointing``), trace (optional).

    The question comes as token ids (``question``, ``question_len``); a batch may add ``question_embedded``
    [B, L, E] (word vectors used instead of the embedding table: the reference's CLEVR class feeds those).
    trace: control [B, p, d] and control_attention [B, p, L] (the same for every frame), read_attention
    [B, T, p, N] (N = cells of the map or objects), memory [B, T, p, d].
    """

    Config = MACConfig

    def __init__(self, config: MACConfig) -> None:
        super().__init__()
        self.config = c = config
        for name, allowed in _CHOICES.items():
            if getattr(c, name) not in allowed:
                raise ValueError(f"mac: {name} must be one of {', '.join(allowed)}, got {getattr(c, name)!r}")
        d = c.d
        compact = c.sizes == "compact"
        if compact and d % 2:
            raise ValueError("mac: d must be even with sizes=compact (question LSTM of d/2 per direction)")
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, d // 2 if compact else d,
                                                bidirectional=True)
        self.word_proj = None if compact else nn.Linear(2 * d, d)
        q_dim = self.question_encoder.out_dim
        if c.path == "pixels":
            self.knowledge = nn.Sequential(
                conv_stack(c.cnn_channels, pool=True),
                nn.Conv2d(c.cnn_channels[-1], d, 3, padding=1), nn.ELU(),
                nn.Conv2d(d, d, 3, padding=1), nn.ELU(),
            )
        elif c.path == "features":
            self.knowledge = nn.Sequential(
                nn.Conv2d(c.feature_channels, d, 3, padding=1), nn.ELU(),
                nn.Conv2d(d, d, 3, padding=1), nn.ELU(),
            )
        elif c.path == "state":
            self.knowledge = nn.Sequential(nn.Linear(c.object_features, d), nn.ELU())
        else:
            raise ValueError(f"mac: unknown path {c.path!r} ({' | '.join(PATHS)})")
        self.control = ControlUnit(d, c.steps, q_dim)
        self.read = ReadUnit(d)
        self.write = WriteUnit(d, c.self_attention, c.memory_gate, c.self_attention_variant)
        self.drop = nn.Dropout(c.dropout)
        if c.pointing:
            self.point_query = nn.Linear(q_dim + d, d)
            self.point_kb = nn.Linear(d, d)
            self.point_score = nn.Linear(d, 1)
        self.out_hidden = nn.Sequential(nn.Linear(q_dim + d, d), nn.ELU())
        self.head = nn.Linear(d, c.num_answers)
        if c.init == "reference":
            self._reference_init()

    # -- construction ----------------------------------------------------------------------------------
    def _reference_init(self) -> None:
        """The reference's initialisation (utils_mac.linear, image_encoding.py, output_unit.py)."""
        xavier = [self.control, self.read, self.write, self.head]
        for unit in xavier:
            for mod in unit.modules():
                if isinstance(mod, nn.Linear):
                    nn.init.xavier_uniform_(mod.weight)
                    if mod.bias is not None:
                        nn.init.zeros_(mod.bias)
        if self.config.path != "state":
            for conv in list(self.knowledge)[-4::2]:  # the two d-wide conv layers
                nn.init.kaiming_uniform_(conv.weight)
                nn.init.zeros_(conv.bias)
        else:
            nn.init.xavier_uniform_(self.knowledge[0].weight)
            nn.init.zeros_(self.knowledge[0].bias)
        nn.init.kaiming_uniform_(self.out_hidden[0].weight)
        nn.init.zeros_(self.out_hidden[0].bias)

    @classmethod
    def small_config(cls) -> dict[str, Any]:
        return {**super().small_config(), "feature_channels": 16}

    # -- pieces ----------------------------------------------------------------------------------------
    def encode_question(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """-> contextual words [B, L, d], question q [B, qd], word-attention mask [B, L] bool."""
        question, qlen = batch["question"], batch["question_len"]
        words, q = self.question_encoder(question, qlen, batch.get("question_embedded"))
        if self.word_proj is not None:
            words = self.word_proj(words)
        if self.config.word_attention == "masked":
            wmask = word_mask(question, qlen)
        else:  # every position up to the longest question of the batch (where the reference's tensor ends)
            L = question.shape[1]
            longest = qlen.clamp(min=1, max=L).max().to(question.device)
            wmask = (torch.arange(L, device=question.device) < longest).expand(question.shape[0], L)
        return words, q, wmask

    def knowledge_base(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, tuple[int, int] | Tensor]:
        """-> kb [B, T, N, d], mask [B, T, N], layout: (h, w) of the cell map or object xy [B, T, N, 2]."""
        path = self.config.path
        if path in ("pixels", "features"):
            x = frames_float(batch["frames"]) if path == "pixels" else batch["features"].float()
            if path == "features" and x.shape[-3] != self.config.feature_channels:
                # the file's maps do not fit this model: say so in one line instead of a convolution's traceback
                raise InputError(f"feature maps have {x.shape[-3]} channels, the model expects "
                                 f"model.feature_channels={self.config.feature_channels} (data.<split>.features)")
            B, T = x.shape[:2]
            maps = run_frames(self.knowledge, x)  # (B·T, d, h, w)
            h, w = maps.shape[-2:]
            kb = maps.flatten(2).transpose(1, 2).reshape(B, T, h * w, -1)
            return kb, torch.ones(kb.shape[:3], dtype=torch.bool, device=kb.device), (h, w)
        objects, mask = state_inputs(batch)
        return self.knowledge(objects), mask, object_xy(objects, self.config.xy_features)

    def _masks(self, B: int, like: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Variational dropout masks (control, memory) [B, d] for one forward, or None."""
        c = self.config
        if not (self.training and c.dropout_placement == "variational" and c.dropout > 0):
            return None, None
        keep = 1.0 - c.dropout
        shape = (B, c.d)
        return (torch.empty(shape, device=like.device, dtype=like.dtype).bernoulli_(keep) / keep,
                torch.empty(shape, device=like.device, dtype=like.dtype).bernoulli_(keep) / keep)

    def _point(self, q: Tensor, m: Tensor, kb: Tensor, mask: Tensor, layout: Any) -> Tensor:
        """Pointing logits [B, G] for one frame: kb [B, N, d]."""
        g = self.config.grid
        query = self.point_query(torch.cat([q, m], dim=-1))
        scores = self.point_score(query.unsqueeze(1) * self.point_kb(kb)).squeeze(-1)  # (B, N)
        if isinstance(layout, tuple):
            h, w = layout
            grid_scores = F.adaptive_avg_pool2d(scores.view(-1, 1, h, w), g) if (h, w) != (g, g) else scores
            return grid_scores.reshape(scores.shape[0], g * g)
        return item_probs_to_point_logits(masked_softmax(scores, mask), layout, g)

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        c = self.config
        words, q, wmask = self.encode_question(batch)  # (B, L, d), (B, qd), (B, L)
        B = q.shape[0]
        cmask, mmask = self._masks(B, q)
        c0 = self.control.c0.expand(B, -1)
        m = self.write.m0.expand(B, -1)
        if cmask is not None:
            c0, m = c0 * cmask, m * mmask
        controls, cattn = self.control(words, q, wmask, c0, cmask)  # (B, p, d), (B, p, L)
        kb_all, mask_all, layout = self.knowledge_base(batch)
        if c.dropout_placement == "kb_output":
            kb_all = self.drop(kb_all)
        T = kb_all.shape[1]
        reference_sa = c.self_attention_variant == "reference"
        logits, points, reads, mems = [], [], [], []
        for t in range(T):
            kb, mask = kb_all[:, t], mask_all[:, t]
            kb_proj = self.read.kb(kb)
            past_c: list[Tensor] = [c0] if reference_sa else []
            past_m: list[Tensor] = [m] if reference_sa else []
            for i in range(c.steps):
                ci = controls[:, i]
                r, rv = self.read(m, ci, kb, kb_proj, mask)
                m = self.write(r, m, ci, past_c, past_m)
                if mmask is not None:
                    m = m * mmask
                past_c.append(ci)
                past_m.append(m)
                if trace:
                    reads.append(rv)
                    mems.append(m)
            hidden = self.out_hidden(torch.cat([q, m], dim=-1))
            logits.append(self.head(self.drop(hidden) if c.dropout_placement == "kb_output" else hidden))
            if c.pointing:
                lay = layout if isinstance(layout, tuple) else layout[:, t]
                points.append(self._point(q, m, kb, mask, lay))
        out: dict[str, Any] = {"logits": torch.stack(logits, 1)}
        if c.pointing:
            out["point_logits"] = torch.stack(points, 1)
        if trace:
            out["trace"] = {
                "control": controls,
                "control_attention": cattn,
                "read_attention": torch.stack(reads, 1).view(B, T, c.steps, -1),
                "memory": torch.stack(mems, 1).view(B, T, c.steps, -1),
            }
        return out

    def units(self) -> dict[str, nn.Module]:
        u: dict[str, nn.Module] = {"question_encoder": self.question_encoder}
        if self.word_proj is not None:
            u["question_encoder"] = nn.ModuleList([self.question_encoder, self.word_proj])
        u.update({"knowledge_base": self.knowledge, "control": self.control, "read": self.read,
                  "write": self.write})
        if self.config.pointing:
            u["pointing"] = nn.ModuleList([self.point_query, self.point_kb, self.point_score])
        u["output"] = self.out_hidden
        u["head"] = self.head
        return u
