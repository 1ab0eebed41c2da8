"""MAC: Memory, Attention and Composition (Hudson & Manning, ICLR 2018), over a set of vectors per frame.

Reads top to bottom. The paper's recurrent MAC cell, restated:

* question: word embedding (300), bidirectional LSTM of d/2 per direction → contextual words cw_s (d) and
  q = [last forward state, last backward state] (d).
* knowledge base (pixels): a CNN stem, then two 3×3 conv layers of d with ELU → one d-vector per cell.
  The paper's stem is a frozen ResNet-101 (conv4, 14×14×1024); ours is *a choice*: the trainable COG-style
  4-block CNN (32, 64, 64, 128), 112×112 → 7×7 (CPU scale, and the same stem for every baseline).
  State path: a linear F → d with ELU per object (masked objects are never attended).
* control unit, step i: q_i = W_i q + b_i (a linear per step); cq = W[c_{i-1}, q_i]; word scores
  w·(cq ⊙ cw_s), softmax over the valid words; c_i = Σ_s cv_s cw_s.
* read unit: I = (W_m m_{i-1}) ⊙ (W_k k); I' = W[I, k]; scores w·(c_i ⊙ I'); r_i = Σ rv · k.
* write unit: m_info = W[r_i, m_{i-1}]; optional self-attention over earlier memories (``self_attention``) and
  optional memory gate σ(w·c_i) (``memory_gate``), both off by default (the paper's basic cell).
* output: [q, m_p] → d (ELU) → answers.
* c_0, m_0 are learned; dropout (``dropout``) on the knowledge base and before the classifier.

Sequences (COG; *a choice*): frames are processed in order, p steps each. The control states depend only on
the question, so they are computed once and reused for every frame; the memory is carried across frames
(frame t starts from the final memory of frame t-1, frame 0 from m_0); an answer is read out after every
frame. CLEVR is the T = 1 case, i.e. exactly the paper's model.

Pointing (COG; *a choice*): a dedicated read over the knowledge base with the query W[q, m_p]
gives a score per item; pixels: the score map is taken on the grid (adaptive average pooling when the
CNN map is not grid×grid); state: the softmax over objects is spread onto the grid with the COG
target bump at each object's (x, y) (``xy_features``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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


@dataclass
class MACConfig(IOConfig):
    d: int = 512
    steps: int = 12
    embedding_size: int = 300
    cnn_channels: tuple[int, ...] = (32, 64, 64, 128)  # stem before the two d-wide conv layers
    dropout: float = 0.15
    self_attention: bool = False
    memory_gate: bool = False
    xy_features: tuple[int, int] = (-2, -1)  # state path pointing: indices of the normalised (x, y) features


class ControlUnit(nn.Module):
    """All p control states: words [B, L, d], q [B, d] -> controls [B, p, d], word attention [B, p, L]."""

    def __init__(self, d: int, steps: int) -> None:
        super().__init__()
        self.c0 = nn.Parameter(torch.zeros(d))
        self.q_step = nn.ModuleList(nn.Linear(d, d) for _ in range(steps))
        self.cq = nn.Linear(2 * d, d)
        self.score = nn.Linear(d, 1)

    def forward(self, words: Tensor, q: Tensor, wmask: Tensor) -> tuple[Tensor, Tensor]:
        c = self.c0.expand(q.shape[0], -1)
        controls, attns = [], []
        for lin in self.q_step:
            cq = self.cq(torch.cat([c, lin(q)], dim=-1))
            cv = masked_softmax(self.score(cq.unsqueeze(1) * words).squeeze(-1), wmask)  # (B, L)
            c = torch.einsum("bl,bld->bd", cv, words)
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
    """m_i from r_i, m_{i-1} (+ self-attention over earlier memories, + memory gate, when enabled)."""

    def __init__(self, d: int, self_attention: bool, memory_gate: bool) -> None:
        super().__init__()
        self.m0 = nn.Parameter(torch.zeros(d))  # initial memory (learned)
        self.info = nn.Linear(2 * d, d)
        self.sa_score = nn.Linear(d, 1) if self_attention else None
        self.sa_mem = nn.Linear(d, d, bias=False) if self_attention else None
        self.gate = nn.Linear(d, 1) if memory_gate else None

    def forward(self, r: Tensor, m: Tensor, c: Tensor, past_c: list[Tensor], past_m: list[Tensor]) -> Tensor:
        new = self.info(torch.cat([r, m], dim=-1))
        if self.sa_score is not None and past_c:
            pc, pm = torch.stack(past_c, 1), torch.stack(past_m, 1)  # (B, i, d)
            sa = torch.softmax(self.sa_score(c.unsqueeze(1) * pc).squeeze(-1), dim=-1)
            new = new + self.sa_mem(torch.einsum("bi,bid->bd", sa, pm))
        if self.gate is not None:
            g = torch.sigmoid(self.gate(c))
            new = g * m + (1 - g) * new
        return new


@register("mac")
class MAC(ReasoningModel):
    """forward(batch) -> logits [B, T, A], point_logits [B, T, grid²] (when ``pointing``), trace (optional).

    trace: control_attention [B, p, L] (the same for every frame), read_attention [B, T, p, N]
    (N = cells of the CNN map or objects), memory [B, T, p, d].
    """

    Config = MACConfig

    def __init__(self, config: MACConfig) -> None:
        super().__init__()
        self.config = c = config
        d = c.d
        if d % 2:
            raise ValueError("mac: d must be even (bidirectional question LSTM of d/2 per direction)")
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, d // 2, bidirectional=True)
        if c.path == "pixels":
            self.knowledge = nn.Sequential(
                conv_stack(c.cnn_channels, pool=True),
                nn.Conv2d(c.cnn_channels[-1], d, 3, padding=1), nn.ELU(),
                nn.Conv2d(d, d, 3, padding=1), nn.ELU(),
            )
        elif c.path == "state":
            self.knowledge = nn.Sequential(nn.Linear(c.object_features, d), nn.ELU())
        else:
            raise ValueError(f"mac: unknown path {c.path!r} (pixels | state)")
        self.control = ControlUnit(d, c.steps)
        self.read = ReadUnit(d)
        self.write = WriteUnit(d, c.self_attention, c.memory_gate)
        self.drop = nn.Dropout(c.dropout)
        if c.pointing:
            self.point_query = nn.Linear(2 * d, d)
            self.point_kb = nn.Linear(d, d)
            self.point_score = nn.Linear(d, 1)
        self.out_hidden = nn.Sequential(nn.Linear(2 * d, d), nn.ELU())
        self.head = nn.Linear(d, c.num_answers)

    def knowledge_base(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, tuple[int, int] | Tensor]:
        """-> kb [B, T, N, d], mask [B, T, N], layout: (h, w) of the cell map or object xy [B, T, N, 2]."""
        if self.config.path == "pixels":
            frames = frames_float(batch["frames"])
            B, T = frames.shape[:2]
            maps = run_frames(self.knowledge, frames)  # (B·T, d, h, w)
            h, w = maps.shape[-2:]
            kb = maps.flatten(2).transpose(1, 2).reshape(B, T, h * w, -1)
            return kb, torch.ones(kb.shape[:3], dtype=torch.bool, device=kb.device), (h, w)
        objects, mask = state_inputs(batch)
        return self.knowledge(objects), mask, object_xy(objects, self.config.xy_features)

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

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        c = self.config
        question, qlen = batch["question"], batch["question_len"]
        words, q = self.question_encoder(question, qlen)  # (B, L, d), (B, d)
        controls, cattn = self.control(words, q, word_mask(question, qlen))  # (B, p, d), (B, p, L)
        kb_all, mask_all, layout = self.knowledge_base(batch)
        kb_all = self.drop(kb_all)
        B, T = kb_all.shape[:2]
        m = self.write.m0.expand(B, -1)
        logits, points, reads, mems = [], [], [], []
        for t in range(T):
            kb, mask = kb_all[:, t], mask_all[:, t]
            kb_proj = self.read.kb(kb)
            past_c: list[Tensor] = []
            past_m: list[Tensor] = []
            for i in range(c.steps):
                ci = controls[:, i]
                r, rv = self.read(m, ci, kb, kb_proj, mask)
                new_m = self.write(r, m, ci, past_c, past_m)
                past_c.append(ci)
                past_m.append(new_m)
                m = new_m
                if trace:
                    reads.append(rv)
                    mems.append(m)
            logits.append(self.head(self.drop(self.out_hidden(torch.cat([q, m], dim=-1)))))
            if c.pointing:
                lay = layout if isinstance(layout, tuple) else layout[:, t]
                points.append(self._point(q, m, kb, mask, lay))
        out: dict[str, Any] = {"logits": torch.stack(logits, 1)}
        if c.pointing:
            out["point_logits"] = torch.stack(points, 1)
        if trace:
            out["trace"] = {
                "control_attention": cattn,
                "read_attention": torch.stack(reads, 1).view(B, T, c.steps, -1),
                "memory": torch.stack(mems, 1).view(B, T, c.steps, -1),
            }
        return out

    def reset_head(self, num_answers: int) -> None:
        self.head = nn.Linear(self.config.d, num_answers).to(self.head.weight.device)
        self.config.num_answers = num_answers

    def units(self) -> dict[str, nn.Module]:
        u: dict[str, nn.Module] = {
            "question_encoder": self.question_encoder,
            "knowledge_base": self.knowledge,
            "control": self.control,
            "read": self.read,
            "write": self.write,
        }
        if self.config.pointing:
            u["pointing"] = nn.ModuleList([self.point_query, self.point_kb, self.point_score])
        u["output"] = self.out_hidden
        u["head"] = self.head
        return u
