"""SAMNet's controller and reasoning cell (samnet.md units 3–10), evaluated in a fused form.

The parameters are the plain modules of ``layers.attention`` (so names and counts match the reference
units), but the K-step loop is rewritten algebraically to do as little as possible per step:

* the controller runs once per question; its K control states c_k are known before any frame, so
  for an interaction  I = W1·(p ⊙ x̂) + W2·x + b  (x̂ the item's projection, x its value) scored as
  (I ⊙ c_k)·w, the score of item x is  x̂ · (p ⊙ v_k) + x · r_k + β_k  with  v_k = (c_k⊙w)·W1,
  r_k = (c_k⊙w)·W2,  β_k = b·(c_k⊙w);  v_k, r_k, β_k are precomputed for all k and the x·r_k + β_k
  terms for all frames at once;
* memory is frozen within a frame, so its projection and step-independent score terms are computed
  once per frame; the K writes are applied after the frame's last step, in step order, in one
  vectorised product (slot ← slot·(1−w_k) + w_k·v_k for k = 1..K).
Per step only the summary projections, two batched matrix-vector products with their softmaxes and
reads, the gate MLP and the summary update remain. ``tests/test_samnet.py`` checks the fused form
against a plain step-by-step evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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


def reason_step(s: Tensor, x: Tensor, xk: Tensor, vis_bias: Tensor, mem: Tensor, mem_proj: Tensor,
                mem_bias: Tensor, v_vis: Tensor, v_mem: Tensor, gate_pre: Tensor, head: Tensor, w_sp: Tensor,
                b_sp: Tensor, w_sq: Tensor, w_g2: Tensor, b_g2: Tensor, w_g3: Tensor, b_g3: Tensor, w_su: Tensor,
                b_su: Tensor) -> tuple[Tensor, ...]:
    """One reasoning step (fused form; weights pre-transposed).

    s [B, d] summary, x [B, N, d] frame items (values), xk [B, N, d] their projections (keys; may be x),
    vis_bias [B, N], mem / mem_proj [B, S, d], mem_bias [B, S], v_vis / v_mem [B, d], gate_pre [B, 12],
    head [B, S] write head →
    (new summary [B, d], visual attention [B, N], read head [B, S], visual object [B, d],
     memory object [B, d], gates [B, 4], write weight [B, S], next write head [B, S]).
    """
    d = s.shape[-1]
    sp_v, sp_m = torch.addmm(b_sp, s, w_sp).split(d, dim=-1)  # projected summary for both units
    va = torch.softmax(_scores(xk, sp_v * v_vis) + vis_bias, dim=-1)  # (B, N) visual attention
    rh = torch.softmax(_scores(mem_proj, sp_m * v_mem) + mem_bias, dim=-1)  # (B, S) read head
    vo = _read(x, va)  # (B, d) visual object
    mo = _read(mem, rh)  # (B, d) memory object
    sq = torch.stack([torch.linalg.vecdot(va, va), torch.linalg.vecdot(rh, rh)], dim=-1)  # (B, 2) peakedness
    h = F.elu(torch.addmm(gate_pre, sq, w_sq))
    h = F.elu(torch.addmm(b_g2, h, w_g2))
    g = torch.sigmoid(torch.addmm(b_g3, h, w_g3))  # (B, 4)
    im, mm, rep, add = g.unsqueeze(-1).unbind(1)  # 4 × (B, 1)
    rel = torch.addcmul(im * vo, mm, mo)  # relevant object
    s = torch.addmm(torch.addmm(b_su, s, w_su[d:]), rel, w_su[:d])  # linear of [relevant, old summary]
    w = torch.addcmul(rep * rh, add, head)  # write weight
    head = torch.lerp(head, torch.roll(head, 1, dims=-1), add)  # soft shift right on "add new"
    return s, va, rh, vo, mo, g, w, head


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
        w_sp = torch.cat([self.visual_interaction.object_proj.weight, self.memory_interaction.object_proj.weight]).t()
        b_sp = torch.cat([self.visual_interaction.object_proj.bias, self.memory_interaction.object_proj.bias])
        g_in = self.gates[0]
        gate_pre = (temporal @ g_in.weight[:, :4].t() + g_in.bias).unbind(1)  # K × (B, 12)
        w_sq = g_in.weight[:, 4:].t()  # (2, 12)
        g2, g3 = self.gates[2], self.gates[4]
        weights = (w_sp, b_sp, w_sq, g2.weight.t(), g2.bias, g3.weight.t(), g3.bias,
                   self.summary_update.weight.t(), self.summary_update.bias)
        step = self._compiled_step() if self.compile_step else reason_step
        v_vis_k, v_mem_k = v_vis.unbind(1), v_mem.unbind(1)
        point = grid_cells > 0

        mem = values.new_zeros(B, S, d)
        mem_loc = values.new_zeros(B, S, grid_cells) if point else None
        head = values.new_zeros(B, S)
        head[:, 0] = 1.0
        s0 = self.initial_summaries(B, T)
        summaries, evidence = [], []
        tr: dict[str, list[Tensor]] = {k: [] for k in TRACE_KEYS}
        for t in range(T):
            mem_proj = self.memory_interaction.item_proj(mem)  # (B, S, d), frozen within the frame
            mem_bias = (torch.bmm(mem, r_mem.transpose(1, 2)) + b_mem.unsqueeze(1)).permute(2, 0, 1)
            mem_bias = mem_bias.contiguous().unbind(0)  # K × (B, S)
            s = s0[t]
            out: dict[str, list[Tensor]] = {k: [] for k in ("va", "rh", "vo", "mo", "g", "w", "head")}
            for k in range(K):
                s, *step_out, new_head = step(
                    s, frames[t], frame_keys[t], vis_bias[t][k], mem, mem_proj, mem_bias[k], v_vis_k[k],
                    v_mem_k[k], gate_pre[k], head, *weights)
                out["head"].append(head)
                head = new_head
                for key, val in zip(("va", "rh", "vo", "mo", "g", "w"), step_out, strict=True):
                    out[key].append(val)
            summaries.append(s)
            W, VO, G = (torch.stack(out[key], 1) for key in ("w", "vo", "g"))  # (B, K, ·)
            if point:
                VA, RH = torch.stack(out["va"], 1), torch.stack(out["rh"], 1)
                if kernel is None:
                    va_grid = VA
                elif kernel.dim() == 2:
                    va_grid = VA @ kernel
                else:
                    va_grid = torch.bmm(VA, kernel[:, t])  # (B, K, G)
                evidence.append(G[..., 0:1] * va_grid + G[..., 1:2] * torch.bmm(RH, mem_loc))
                mem_loc = _apply_writes(mem_loc, W, va_grid)
            if trace:
                _trace_frame(tr, out, mem, head)
            mem = _apply_writes(mem, W, VO)
        out_trace = {k: torch.stack(v, 1) for k, v in tr.items()} if trace else {}
        return CellOutput(torch.stack(summaries, 1), torch.stack(evidence, 1) if point else None, out_trace)


# Per frame t and step k, [B, T, K, ·]. write_head: the head step k writes through; write_head_after: the
# head after step k's update; memory: the slots after step k's write (writes are applied after the frame's
# last step, in step order, so this is the memory the next frame sees once k = K − 1).
TRACE_KEYS = ("visual_attention", "read_head", "visual_object", "memory_object", "gates", "write_head",
              "write_weight", "write_head_after", "memory")


def _trace_frame(tr: dict[str, list[Tensor]], out: dict[str, list[Tensor]], mem: Tensor, head: Tensor) -> None:
    for key, name in (("visual_attention", "va"), ("read_head", "rh"), ("visual_object", "vo"),
                      ("memory_object", "mo"), ("gates", "g"), ("write_head", "head"), ("write_weight", "w")):
        tr[key].append(torch.stack(out[name], 1))
    tr["write_head_after"].append(torch.stack(out["head"][1:] + [head], 1))
    mems = []
    for w, vo in zip(out["w"], out["vo"], strict=True):  # the K writes one at a time
        mem = mem * (1.0 - w).unsqueeze(-1) + w.unsqueeze(-1) * vo.unsqueeze(1)
        mems.append(mem)
    tr["memory"].append(torch.stack(mems, 1))
