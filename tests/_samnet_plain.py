"""A plain, step-by-step evaluation of SAMNet written straight from samnet.md (test reference only).

It uses the model's own parameters through the plain layers (Interaction, Attention, masked_softmax) and
applies the memory writes one at a time, so it checks the fused cell of ``vrkit.models._samnet_cell``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vrkit.models.layers import feature_map_kernel, location_kernel, masked_softmax


def plain_forward(model, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    cfg, cell, ctl = model.cfg, model.reasoning_cell, model.controller
    d, K, S = cfg.dim, cfg.steps, cfg.slots
    G = cfg.grid**2 if cfg.pointing else 0
    words, q, wmask = model.question_encoder(batch["question"], batch["question_len"])
    B = q.shape[0]
    if cfg.path == "pixels":
        raw, mask = model.image_encoder(batch["frames"]), None
        proj = model.image_encoder.feature_proj(raw)
        hw = model.image_encoder.cnn.feature_hw(batch["frames"].shape[-1])
        kern = feature_map_kernel(hw[0], hw[1], cfg.grid).expand(B, raw.shape[1], -1, -1)
    else:
        raw, mask = model.state_encoder(batch["objects"], batch.get("object_mask"))
        proj = model.state_encoder.feature_proj(raw)
        kern = location_kernel(batch["objects"][..., cfg.xy_offset:][..., :2], cfg.grid)
    feats = raw if cfg.visual_values == "raw" else proj  # what attention reads and memory stores
    # controller
    c = ctl.init_control.expand(B, d)
    controls, temporal = [], []
    for k in range(K):
        qk = q @ ctl.step_weight[k].t() + ctl.step_bias[k]
        cq = ctl.merge(torch.cat([qk, c], -1))
        scores = ctl.word_attention.score(words * cq[:, None]).squeeze(-1)
        a = masked_softmax(scores, wmask)
        c = (a[..., None] * words).sum(1)
        controls.append(c)
        temporal.append(torch.softmax(ctl.temporal(c), -1))
    T = feats.shape[1]
    mem = feats.new_zeros(B, S, d)
    mem_loc = feats.new_zeros(B, S, max(G, 1))
    head = feats.new_zeros(B, S)
    head[:, 0] = 1
    summaries, evidence = [], []
    for t in range(T):
        x, xk = feats[:, t], proj[:, t]
        m_t = None if mask is None else mask[:, t]
        s = cell.init_summary.expand(B, d)  # eval mode: dropout (shared or per frame) is the identity
        writes, ev = [], []
        for k in range(K):
            inter = cell.visual_interaction  # projected summary ⊙ projected items, concatenated with the values
            keys = inter.combine(torch.cat([inter.object_proj(s)[:, None] * xk, x], -1))
            vo, va = cell.visual_attention(controls[k], keys, x, m_t)
            mo, rh = cell.memory_attention(controls[k], cell.memory_interaction(s, mem), mem)
            gin = torch.cat([temporal[k], (va**2).sum(-1, keepdim=True), (rh**2).sum(-1, keepdim=True)], -1)
            g = cell.gates(gin)
            s = cell.summary_update(torch.cat([g[:, :1] * vo + g[:, 1:2] * mo, s], -1))
            w = g[:, 2:3] * rh + g[:, 3:4] * head
            head = (1 - g[:, 3:4]) * head + g[:, 3:4] * torch.roll(head, 1, -1)
            va_grid = torch.einsum("bn,bng->bg", va, kern[:, t])
            ev.append(g[:, :1] * va_grid + g[:, 1:2] * torch.einsum("bs,bsg->bg", rh, mem_loc))
            writes.append((w, vo, va_grid))
        for w, vo, vg in writes:  # frozen during the frame, applied after its last step in step order
            mem = mem * (1 - w[..., None]) + w[..., None] * vo[:, None]
            mem_loc = mem_loc * (1 - w[..., None]) + w[..., None] * vg[:, None]
        summaries.append(s)
        evidence.append(torch.stack(ev, 1))
    summ = torch.stack(summaries, 1)
    out = {"logits": model.output_unit(torch.cat([q[:, None].expand(-1, T, -1), summ], -1))}
    if G:
        out["point_logits"] = model.pointing_head(summ, torch.stack(evidence, 1))
    return out

