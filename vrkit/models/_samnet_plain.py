"""SAMNet's controller and reasoning cell written plainly, step by step: the reference path (``cell: plain``).

This is the readable form of the computation. The classes have the parameters of the fused fast path
(``_samnet_cell.Controller`` and ``SAMCell``: the modules of ``layers.attention``, here simply called) and apply
every operation in the order the SAMNet paper (Jayram et al., 2019) describes it, one step and one memory write
at a time. ``tests/models/test_samnet.py`` checks that both paths give the same outputs and traces, and the
reference-fixture test runs on both (docs/samnet-reference.md).

Shapes: B questions, T frames, N items per frame, L words, K reasoning steps, S memory slots, d width,
G grid cells (0: no pointing).
"""

from __future__ import annotations

import torch
from torch import Tensor

from vrkit.models._samnet_cell import CellOutput, Controller, SAMCell


class PlainController(Controller):
    """The controller, step by step.

    forward(question [B, Q], words [B, L, d], word_mask [B, L]) →
        control [B, K, d], word attention [B, K, L], temporal-class weights [B, K, 4].
    """

    def forward(self, question: Tensor, words: Tensor, word_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B = question.shape[0]
        control = self.drop(self.init_control.expand(B, self.dim))  # c_0: learned, with dropout
        controls, word_attentions = [], []
        for k in range(self.steps):
            step_question = question @ self.step_weight[k].t() + self.step_bias[k]  # (B, d): step k's view
            query = self.merge(torch.cat([step_question, control], dim=-1))  # (B, d): with the previous control
            control, attention = self.word_attention(query, words, words, word_mask)  # c_k: a read of the words
            controls.append(control)
            word_attentions.append(attention)
        control = torch.stack(controls, 1)  # (B, K, d)
        temporal = torch.softmax(self.temporal(control), dim=-1)  # (B, K, 4): now, last, latest, none
        return control, torch.stack(word_attentions, 1), temporal


def _to_grid(attention: Tensor, kernel: Tensor | None, t: int) -> Tensor:
    """Visual attention [B, N] → a distribution over the grid [B, G] (kernel None: the items are the cells)."""
    if kernel is None:
        return attention
    if kernel.dim() == 2:  # [N, G], the same for every frame
        return attention @ kernel
    return torch.einsum("bn,bng->bg", attention, kernel[:, t])  # [B, T, N, G]: frame t's items


class PlainSAMCell(SAMCell):
    """The reasoning cell, step by step.

    forward(values / keys [B, T, N, d], mask [B, T, N] | None, control [B, K, d], temporal [B, K, 4],
            kernel, grid_cells, trace) → :class:`~vrkit.models._samnet_cell.CellOutput`: summary [B, T, d],
    pointing evidence [B, T, K, G] | None and, when ``trace``, {name: [B, T, K, ·]}.
    ``values`` are what visual attention reads and memory stores; ``keys`` (their projections, or the values
    themselves) meet the projected summary in the visual interaction.
    """

    def forward(self, values: Tensor, keys: Tensor, mask: Tensor | None, control: Tensor, temporal: Tensor,
                kernel: Tensor | None = None, grid_cells: int = 0, trace: bool = False) -> CellOutput:
        B, T, N, d = values.shape
        point = grid_cells > 0
        memory = values.new_zeros(B, self.slots, d)
        locations = values.new_zeros(B, self.slots, grid_cells)  # where each slot's content was seen
        write_head = values.new_zeros(B, self.slots)
        write_head[:, 0] = 1.0  # the first write goes to slot 0
        start = self.initial_summaries(B, T)
        summaries, evidence = [], []
        per_frame: dict[str, list[Tensor]] = {}
        for t in range(T):
            items, item_keys = values[:, t], keys[:, t]  # (B, N, d)
            item_mask = None if mask is None else mask[:, t]
            summary = start[t]  # (B, d)
            writes, frame_evidence = [], []
            per_step: dict[str, list[Tensor]] = {}
            for k in range(self.steps):
                c_k = control[:, k]
                # visual retrieval: the projected summary meets the items' keys; attention reads the values
                vis = self.visual_interaction
                mixed = vis.combine(torch.cat([vis.object_proj(summary).unsqueeze(1) * item_keys, items], dim=-1))
                visual_object, visual_attention = self.visual_attention(c_k, mixed, items, item_mask)
                # memory retrieval from the memory the previous frame left (frozen within this frame)
                mixed = self.memory_interaction(summary, memory)
                memory_object, read_head = self.memory_attention(c_k, mixed, memory)
                # reasoning gates from the temporal weights and the peakedness of both attentions
                peaks = torch.stack([(visual_attention**2).sum(-1), (read_head**2).sum(-1)], dim=-1)  # (B, 2)
                gates = self.gates(torch.cat([temporal[:, k], peaks], dim=-1))  # (B, 4)
                image_match, memory_match, do_replace, do_add_new = gates.split(1, dim=-1)  # 4 × (B, 1)
                # summary update from the relevant object
                relevant = image_match * visual_object + memory_match * memory_object
                summary = self.summary_update(torch.cat([relevant, summary], dim=-1))
                # the write goes to the slot read (replace) or to the slot under the write head (add new)
                write_weight = do_replace * read_head + do_add_new * write_head  # (B, S)
                next_head = (1 - do_add_new) * write_head + do_add_new * torch.roll(write_head, 1, dims=-1)
                on_grid = None
                if point:  # location evidence: the attended items' cells and the read slots' remembered cells
                    on_grid = _to_grid(visual_attention, kernel, t)  # (B, G)
                    remembered = torch.einsum("bs,bsg->bg", read_head, locations)
                    frame_evidence.append(image_match * on_grid + memory_match * remembered)
                writes.append((write_weight, visual_object, on_grid))
                for name, value in (("visual_attention", visual_attention), ("read_head", read_head),
                                    ("visual_object", visual_object), ("memory_object", memory_object),
                                    ("gates", gates), ("write_head", write_head), ("write_weight", write_weight),
                                    ("write_head_after", next_head)):
                    per_step.setdefault(name, []).append(value)
                write_head = next_head
            # after the frame's last step its K writes are applied in step order
            for write_weight, visual_object, on_grid in writes:
                weight = write_weight.unsqueeze(-1)  # (B, S, 1): slot ← slot·(1 − w) + w·value
                memory = memory * (1 - weight) + weight * visual_object.unsqueeze(1)
                if on_grid is not None:
                    locations = locations * (1 - weight) + weight * on_grid.unsqueeze(1)
                per_step.setdefault("memory", []).append(memory)
            summaries.append(summary)
            if point:
                evidence.append(torch.stack(frame_evidence, 1))  # (B, K, G)
            for name, steps in per_step.items():
                per_frame.setdefault(name, []).append(torch.stack(steps, 1))  # (B, K, ·)
        out_trace = {name: torch.stack(frames, 1) for name, frames in per_frame.items()} if trace else {}
        return CellOutput(torch.stack(summaries, 1), torch.stack(evidence, 1) if point else None, out_trace)
