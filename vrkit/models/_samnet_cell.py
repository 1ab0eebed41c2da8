"""SAMNet's controller and reasoning cell: the parameters, and the fused fast path (the default ``cell: fused``).

The parameters are the plain modules of ``layers.attention`` (so names and counts match the reference
implementation's units, docs/samnet-reference.md). ``cell: plain`` evaluates them step by step as the SAMNet
paper describes them (``_samnet_plain``: read that first). The fused path rewrites the K-step loop
algebraically to do as little as possible per step:

* the controller runs once per question; its K control states c_k are known before any frame, so
  for an interaction  I = W1·(p ⊙ x̂) + W2·x + b  (x̂ the item's projection, x its value) scored as
  (I ⊙ c_k)·w, the score of item x is  x̂ · (p ⊙ v_k) + x · r_k + β_k  with  v_k = (c_k⊙w)·W1,
  r_k = (c_k⊙w)·W2,  β_k = b·(c_k⊙w);  v_k, r_k, β_k are precomputed for all k and the x·r_k + β_k
  terms for all frames at once;
* memory is frozen within a frame, so its projection and step-independent score terms are computed
  once per frame; the K writes are applied after the frame's last step, in step order, in one
  vectorised product (slot ← slot·(1−w_k) + w_k·v_k for k = 1..K).
Per step only the summary projections, two batched matrix-vector products with their softmaxes and
reads, the gate MLP and the summary update remain (:func:`reason_step`). ``tests/models/test_samnet.py`` checks that
both paths give the same outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.models.layers.attention import NEG_INF, Attention, Interaction

TEMPORAL_CLASSES = ("now", "last", "latest", "none")
GATES = ("image_match", "memory_match", "do_replace", "do_add_new")
SMALL_SET = 32  # item-set size up to which attention uses broadcast products instead of bmm


class Controller(nn.Module):
    """Question-driven controller: K control states, word attention and temporal-class weights.

    forward(question [B, Q], words [B, L, d], word_mask [B, L]) →
        control [B, K, d], word_attention [B, K, L], temporal [B, K, 4] (now, last, latest, none).
    Step k: step-specific linear Q→d of the question, concatenated with c_{k−1}, linear 2d→d, then
    attention over the contextual words (query = that vector) gives c_k. c_0 is learned (dropout).
    The plain form of the same computation: ``_samnet_plain.PlainController``.
    """

    def __init__(self, dim: int, question_dim: int, steps: int, dropout: float) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(question_dim)  # nn.Linear's default; SAMNet(init="reference") re-initialises
        self.step_weight = nn.Parameter(torch.empty(steps, dim, question_dim).uniform_(-bound, bound))
        self.step_bias = nn.Parameter(torch.empty(steps, dim).uniform_(-bound, bound))
        self.merge = nn.Linear(2 * dim, dim)
        self.word_attention = Attention(dim)
        self.temporal = nn.Sequential(nn.Linear(dim, dim), nn.ELU(), nn.Linear(dim, len(TEMPORAL_CLASSES)))
        self.init_control = nn.Parameter(torch.randn(dim) * 0.1)
        self.drop = nn.Dropout(dropout)
        self.steps, self.dim = steps, dim

    def forward(self, question: Tensor, words: Tensor, word_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, d = question.shape[0], self.dim
        q_k = torch.einsum("bq,kdq->bkd", question, self.step_weight) + self.step_bias  # (B, K, d)
        w_merge = self.merge.weight  # (d, 2d): [q_k, c_{k-1}]
        pre = (torch.matmul(q_k, w_merge[:, :d].t()) + self.merge.bias).unbind(1)  # K × (B, d)
        w_prev = w_merge[:, d:].t()
        w_score = self.word_attention.score.weight[0]  # (d,)
        bias = torch.zeros_like(word_mask, dtype=words.dtype).masked_fill(~word_mask, NEG_INF)  # (B, L)
        c = self.drop(self.init_control.expand(B, d))
        controls, attns = [], []
        for k in range(self.steps):
            cq = torch.addmm(pre[k], c, w_prev)  # (B, d)
            a = torch.softmax(_scores(words, cq * w_score) + bias, dim=-1)  # (B, L)
            c = _read(words, a)  # (B, d)
            controls.append(c)
            attns.append(a)
        control = torch.stack(controls, 1)  # (B, K, d)
        temporal = torch.softmax(self.temporal(control), dim=-1)
        return control, torch.stack(attns, 1), temporal


@dataclass
class CellOutput:
    summary: Tensor  # (B, T, d) final summary per frame
    evidence: Tensor | None  # (B, T, K, G) per-step location evidence for pointing
    trace: dict[str, Tensor] = field(default_factory=dict)


def _apply_writes(mem: Tensor, weights: Tensor, values: Tensor) -> Tensor:
    """Sequential writes slot ← slot·(1−w_k) + w_k·value_k, k = 1..K, in closed form.

    mem [B, S, D], weights [B, K, S], values [B, K, D] → [B, S, D]."""
    keep = 1.0 - weights
    incl = torch.flip(torch.cumprod(torch.flip(keep, [1]), dim=1), [1])  # Π_{j≥k} keep_j
    excl = torch.cat([incl[:, 1:], torch.ones_like(incl[:, :1])], dim=1)  # Π_{j>k} keep_j
    coef = weights * excl  # (B, K, S)
    return mem * incl[:, 0].unsqueeze(-1) + torch.bmm(coef.transpose(1, 2), values)


def _scores(items: Tensor, query: Tensor) -> Tensor:
    """items [B, N, d] · query [B, d] → [B, N]. Few items: broadcast product (batched tiny matrix-vector
    products are slow on CPU); many: bmm."""
    if items.shape[1] <= SMALL_SET:
        return (items * query.unsqueeze(1)).sum(-1)
    return torch.bmm(items, query.unsqueeze(-1)).squeeze(-1)


def _read(items: Tensor, weights: Tensor) -> Tensor:
    """Weighted sum of items [B, N, d] by weights [B, N] → [B, d]."""
    if items.shape[1] <= SMALL_SET:
        return (items * weights.unsqueeze(-1)).sum(1)
    return torch.bmm(weights.unsqueeze(1), items).squeeze(1)


class StepWeights(NamedTuple):
    """The reasoning cell's weights as one step uses them (pre-transposed: ``x @ w``)."""

    summary_proj: Tensor  # (d, 2d): the summary's projections for the visual and the memory interaction
    summary_proj_bias: Tensor  # (2d,)
    gate_peaks: Tensor  # (2, 12): the gate MLP's first layer on the two attention peakednesses
    gate_hidden: Tensor  # (12, 12)
    gate_hidden_bias: Tensor  # (12,)
    gate_out: Tensor  # (12, 4)
    gate_out_bias: Tensor  # (4,)
    summary_update: Tensor  # (2d, d): rows [relevant object; old summary]
    summary_update_bias: Tensor  # (d,)


class StepInputs(NamedTuple):
    """What reasoning step k of frame t reads besides the summary and the write head."""

    items: Tensor  # (B, N, d) the frame's values: what visual attention reads
    item_keys: Tensor  # (B, N, d) their projections (may be ``items``)
    visual_query: Tensor  # (B, d) v_k: meets (projected summary ⊙ item keys)
    visual_bias: Tensor  # (B, N) the step's summary-independent visual scores x·r_k + β_k (+ mask)
    memory: Tensor  # (B, S, d) the slots, frozen within the frame
    memory_keys: Tensor  # (B, S, d) their projections
    memory_query: Tensor  # (B, d)
    memory_bias: Tensor  # (B, S)
    gate_input: Tensor  # (B, 12) the gate MLP's first layer on the step's temporal weights, with its bias


class StepOutput(NamedTuple):
    summary: Tensor  # (B, d) the new summary
    visual_attention: Tensor  # (B, N)
    read_head: Tensor  # (B, S)
    visual_object: Tensor  # (B, d)
    memory_object: Tensor  # (B, d)
    gates: Tensor  # (B, 4) image_match, memory_match, do_replace, do_add_new
    write_weight: Tensor  # (B, S) what the step writes (applied after the frame)
    next_write_head: Tensor  # (B, S) the write head after the step's soft shift


def reason_step(summary: Tensor, write_head: Tensor, x: StepInputs, w: StepWeights) -> StepOutput:
    """One reasoning step in the fused form (the plain form: ``_samnet_plain.PlainSAMCell``)."""
    d = summary.shape[-1]
    proj_vis, proj_mem = torch.addmm(w.summary_proj_bias, summary, w.summary_proj).split(d, dim=-1)
    visual_attention = torch.softmax(_scores(x.item_keys, proj_vis * x.visual_query) + x.visual_bias, dim=-1)
    read_head = torch.softmax(_scores(x.memory_keys, proj_mem * x.memory_query) + x.memory_bias, dim=-1)
    visual_object = _read(x.items, visual_attention)
    memory_object = _read(x.memory, read_head)
    peaks = torch.stack([torch.linalg.vecdot(visual_attention, visual_attention),
                         torch.linalg.vecdot(read_head, read_head)], dim=-1)  # (B, 2)
    hidden = F.elu(torch.addmm(x.gate_input, peaks, w.gate_peaks))
    hidden = F.elu(torch.addmm(w.gate_hidden_bias, hidden, w.gate_hidden))
    gates = torch.sigmoid(torch.addmm(w.gate_out_bias, hidden, w.gate_out))  # (B, 4)
    image_match, memory_match, do_replace, do_add_new = gates.unsqueeze(-1).unbind(1)  # 4 × (B, 1)
    relevant = torch.addcmul(image_match * visual_object, memory_match, memory_object)
    # linear of [relevant object, old summary]
    summary = torch.addmm(torch.addmm(w.summary_update_bias, summary, w.summary_update[d:]), relevant,
                          w.summary_update[:d])
    write_weight = torch.addcmul(do_replace * read_head, do_add_new, write_head)
    next_head = torch.lerp(write_head, torch.roll(write_head, 1, dims=-1), do_add_new)  # shift on "add new"
    return StepOutput(summary, visual_attention, read_head, visual_object, memory_object, gates, write_weight,
                      next_head)


_COMPILED_STEP = None


class SAMCell(nn.Module):
    """Visual retrieval, memory retrieval, reasoning gates, summary and memory updates over T frames.

    forward(values [B, T, N, d], keys [B, T, N, d], mask [B, T, N] | None, control [B, K, d],
            temporal [B, K, 4], kernel [N, G] | [B, T, N, G] | None, grid_cells G, trace) → :class:`CellOutput`.
    ``values`` are what attention reads and memory stores, ``keys`` the items' projections that meet the
    projected summary in the visual interaction (the reference: raw CNN features and their linear
    projection; ``keys is values`` for the projected-values option).
    ``kernel`` maps items to grid points for pointing evidence (None with G == N: identity;
    ``grid_cells = 0``: no pointing evidence).
    ``shared_dropout``: one dropout mask on the initial summary per forward, reused by every frame (the
    reference); otherwise a new mask per frame.
    The plain form of the same computation: ``_samnet_plain.PlainSAMCell``.
    """

    def __init__(self, dim: int, steps: int, slots: int, dropout: float, compile_step: bool = False,
                 shared_dropout: bool = True) -> None:
        super().__init__()
        self.compile_step = compile_step
        self.shared_dropout = shared_dropout
        self.visual_interaction = Interaction(dim, project_items=False)  # keys arrive projected
        self.visual_attention = Attention(dim)
        self.memory_interaction = Interaction(dim, project_items=True)
        self.memory_attention = Attention(dim)
        self.gates = nn.Sequential(nn.Linear(6, 12), nn.ELU(), nn.Linear(12, 12), nn.ELU(),
                                   nn.Linear(12, len(GATES)), nn.Sigmoid())
        self.summary_update = nn.Linear(2 * dim, dim)  # [relevant object, old summary], no nonlinearity
        self.init_summary = nn.Parameter(torch.randn(dim) * 0.1)
        self.drop = nn.Dropout(dropout)
        self.dim, self.steps, self.slots = dim, steps, slots

    @staticmethod
    def _compiled_step():
        global _COMPILED_STEP
        if _COMPILED_STEP is None:
            _COMPILED_STEP = torch.compile(reason_step, dynamic=False, fullgraph=True)
        return _COMPILED_STEP

    @staticmethod
    def _score_terms(control: Tensor, inter: Interaction, attn: Attention) -> tuple[Tensor, Tensor, Tensor]:
        d = control.shape[-1]
        cw = control * attn.score.weight[0]  # (B, K, d)
        w = inter.combine.weight  # (d, 2d): [obj ⊙ keys, values]
        return cw @ w[:, :d], cw @ w[:, d:], cw @ inter.combine.bias  # v, r (B, K, d); beta (B, K)

    def _step_weights(self) -> StepWeights:
        vis, mem = self.visual_interaction.object_proj, self.memory_interaction.object_proj
        hidden, out = self.gates[2], self.gates[4]
        return StepWeights(torch.cat([vis.weight, mem.weight]).t(), torch.cat([vis.bias, mem.bias]),
                           self.gates[0].weight[:, 4:].t(), hidden.weight.t(), hidden.bias, out.weight.t(),
                           out.bias, self.summary_update.weight.t(), self.summary_update.bias)

    def initial_summaries(self, B: int, T: int) -> list[Tensor]:
        """The T frames' starting summaries (dropout on the learned initial summary)."""
        if self.shared_dropout:
            return [self.drop(self.init_summary.expand(B, self.dim))] * T
        return list(self.drop(self.init_summary.expand(B, T, self.dim)).unbind(1))

    def forward(self, values: Tensor, keys: Tensor, mask: Tensor | None, control: Tensor, temporal: Tensor,
                kernel: Tensor | None = None, grid_cells: int = 0, trace: bool = False) -> CellOutput:
        B, T, N, d = values.shape
        K, S = self.steps, self.slots
        v_vis, r_vis, b_vis = self._score_terms(control, self.visual_interaction, self.visual_attention)
        v_mem, r_mem, b_mem = self._score_terms(control, self.memory_interaction, self.memory_attention)
        # step-independent visual scores for every frame and step: (T, K, B, N)
        vis_bias = torch.einsum("btnd,bkd->tkbn", values, r_vis) + b_vis.t()[None, :, :, None]
        if mask is not None:
            vis_bias = vis_bias + torch.zeros(mask.shape, dtype=values.dtype, device=values.device).masked_fill(
                ~mask, NEG_INF).permute(1, 0, 2).unsqueeze(1)
        vis_bias = [vb.unbind(0) for vb in vis_bias.unbind(0)]  # T × K × (B, N)
        frames = values.transpose(0, 1).contiguous().unbind(0)  # T × (B, N, d)
        frame_keys = frames if keys is values else keys.transpose(0, 1).contiguous().unbind(0)
        g_in = self.gates[0]
        gate_input = (temporal @ g_in.weight[:, :4].t() + g_in.bias).unbind(1)  # K × (B, 12)
        weights = self._step_weights()
        step = self._compiled_step() if self.compile_step else reason_step
        visual_query, memory_query = v_vis.unbind(1), v_mem.unbind(1)  # K × (B, d)
        point = grid_cells > 0

        mem = values.new_zeros(B, S, d)
        mem_loc = values.new_zeros(B, S, grid_cells) if point else None
        head = values.new_zeros(B, S)
        head[:, 0] = 1.0
        s0 = self.initial_summaries(B, T)
        summaries, evidence = [], []
        tr: dict[str, list[Tensor]] = {k: [] for k in TRACE_KEYS}
        for t in range(T):
            mem_keys = self.memory_interaction.item_proj(mem)  # (B, S, d), frozen within the frame
            mem_bias = (torch.bmm(mem, r_mem.transpose(1, 2)) + b_mem.unsqueeze(1)).permute(2, 0, 1)
            mem_bias = mem_bias.contiguous().unbind(0)  # K × (B, S)
            summary = s0[t]
            outs: list[StepOutput] = []
            heads = []  # the head each step writes through
            for k in range(K):
                out = step(summary, head, StepInputs(frames[t], frame_keys[t], visual_query[k], vis_bias[t][k], mem,
                                                     mem_keys, memory_query[k], mem_bias[k], gate_input[k]), weights)
                heads.append(head)
                summary, head = out.summary, out.next_write_head
                outs.append(out)
            summaries.append(summary)
            write_weights = torch.stack([o.write_weight for o in outs], 1)  # (B, K, S)
            visual_objects = torch.stack([o.visual_object for o in outs], 1)  # (B, K, d)
            if point:
                gates = torch.stack([o.gates for o in outs], 1)  # (B, K, 4)
                va = torch.stack([o.visual_attention for o in outs], 1)  # (B, K, N)
                rh = torch.stack([o.read_head for o in outs], 1)  # (B, K, S)
                if kernel is None:
                    va_grid = va
                elif kernel.dim() == 2:
                    va_grid = va @ kernel
                else:
                    va_grid = torch.bmm(va, kernel[:, t])  # (B, K, G)
                evidence.append(gates[..., 0:1] * va_grid + gates[..., 1:2] * torch.bmm(rh, mem_loc))
                mem_loc = _apply_writes(mem_loc, write_weights, va_grid)
            if trace:
                _trace_frame(tr, outs, heads, mem, head)
            mem = _apply_writes(mem, write_weights, visual_objects)
        out_trace = {k: torch.stack(v, 1) for k, v in tr.items()} if trace else {}
        return CellOutput(torch.stack(summaries, 1), torch.stack(evidence, 1) if point else None, out_trace)


# Per frame t and step k, [B, T, K, ·]. write_head: the head step k writes through; write_head_after: the
# head after step k's update; memory: the slots after step k's write (writes are applied after the frame's
# last step, in step order, so this is the memory the next frame sees once k = K − 1).
TRACE_KEYS = ("visual_attention", "read_head", "visual_object", "memory_object", "gates", "write_head",
              "write_weight", "write_head_after", "memory")


def _trace_frame(tr: dict[str, list[Tensor]], outs: list[StepOutput], heads: list[Tensor], mem: Tensor,
                 head: Tensor) -> None:
    for key in ("visual_attention", "read_head", "visual_object", "memory_object", "gates", "write_weight"):
        tr[key].append(torch.stack([getattr(o, key) for o in outs], 1))
    tr["write_head"].append(torch.stack(heads, 1))
    tr["write_head_after"].append(torch.stack(heads[1:] + [head], 1))
    mems = []
    for o in outs:  # the K writes one at a time
        mem = mem * (1.0 - o.write_weight).unsqueeze(-1) + o.write_weight.unsqueeze(-1) * o.visual_object.unsqueeze(1)
        mems.append(mem)
    tr["memory"].append(torch.stack(mems, 1))
