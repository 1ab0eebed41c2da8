"""SAMNet — Selective Attention Memory Network (samnet.md), on pixels or on symbolic scene states.

Per question: a BiLSTM question encoder and a controller producing K control states (word attention,
temporal-class weights now/last/latest/none). Per frame, in order: K reasoning steps, each retrieving a
visual object (attention over the frame's feature vectors) and a memory object (attention over N memory
slots), gating them with a tiny MLP on (temporal weights, attention peakedness), updating the summary;
the memory (frozen during the frame) receives the K writes after the frame's last step. An output unit
answers from [question, final summary] at every frame. Defaults: d = 128, K = 8, 8 slots; the pixel COG
configuration has exactly the reference's 1,014,879 parameters without the pointing head.

Perception
    pixels: frames [B, T, 3, H, W] → COG CNN (all B·T frames in one call; bf16 autocast and channels-last
            friendly) → (H/16)·(W/16) vectors of 128 → shared linear → d.
    state:  objects [B, T, N, F] + object_mask → linear F → d → the same shared linear d → d.
Under CPU autocast (bf16) the CNN and the question LSTM run in bf16 (oneDNN kernels: ~1.7× for the LSTM);
everything else runs in fp32 (autocast is disabled there): the reasoning core is made of small ops for which
bf16 only adds casts, and its recurrences keep full precision.

Pointing head (our design; the reference returned zero pointing logits)
    Every attended item has a distribution over the grid × grid lattice ("location"): for pixels the
    feature-map cell (7×7 at 112 px = the COG grid itself: identity; other sizes: the cell centre spread
    with the COG kernel exp(−d²/0.02)); for the state path the object's (x, y) — features
    ``objects[..., xy_offset : xy_offset + 2]``, normalised, y down — spread with the same kernel.
    The memory carries, beside each slot's vector, the location it was written from (same write weights),
    so a step's location evidence is  image_match·(visual attention → grid) + memory_match·(read head →
    slot locations)  — objects remembered from earlier frames can be pointed at. The head
    (layers.PointingHead) mixes the K steps' evidence with learned weights and returns
    α·log(evidence + ε) + Linear(final summary), i.e. at initialisation (α = 1, zero linear) softmax of the
    logits is the attended location up to ε.
    Train with the COG soft cross-entropy (layers.point_target); read out with layers.point_readout.
    Cost: d·G + G + K + 1 parameters (6,330 at d = 128, G = 49, K = 8); ``pointing=False`` drops it and
    returns no ``point_logits``.

Units (``units()``, input to output) and parameters in the reference COG pixel configuration
    question_encoder 236,608 · image_encoder 146,008 (CNN 130,496 + feature projection 16,512) ·
    controller 313,348 (reference 313,220 + learned initial control state 128) · reasoning_cell 148,900
    (reference SAM cell 148,772 + learned initial summary 128) · output_unit 169,015 · pointing_head 6,330.
    Total 1,021,209 = 1,014,879 (reference, exactly) + 6,330. State path: ``state_encoder`` (linear F → d and
    the feature projection) replaces ``image_encoder``.

Null item (``null_item=True``; our addition, advised by samnet.md's prototype notes): a learned vector appended
    to every frame's items, so visual attention has somewhere to rest when nothing matches ("exist?" questions
    then read "attention went to nothing"). It has no location (zero row in the pointing kernel); the trace's
    ``visual_attention`` covers the real items only and ``null_attention`` [B, T, K] holds the rest.
    d extra parameters.

Trace (``forward(batch, trace=True)["trace"]``), per frame t and step k, shapes [B, T, K, ·]:
    visual_attention (N items), word_attention (L words), temporal (now, last, latest, none), gates
    (image_match, memory_match, do_replace, do_add_new), read_head (S slots), write_head (S, the head
    position used by step k), write_weight (S, what step k writes), point_evidence (G; with pointing).

Speed: the cell is evaluated in an algebraically fused form (see ``_samnet_cell``), the question BiLSTM as
two unpacked runs (same result as packing), the CNN on all B·T frames at once. ``compile_step=True``
torch.compiles the reasoning step (minutes of compilation on a 2-core CPU; modest gain). Training code should
call ``vrkit.models.perf.cpu_speedups()`` once (flush denormals, keep freed memory in the heap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.models._samnet_cell import GATES, TEMPORAL_CLASSES, Controller, SAMCell
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.layers import CogCNN, PointingHead, QuestionEncoder, StateEncoder
from vrkit.models.layers.pointing import feature_map_kernel, location_kernel
from vrkit.models.registry import register

__all__ = ["GATES", "TEMPORAL_CLASSES", "SAMNet", "SAMNetConfig"]


@dataclass
class SAMNetConfig(IOConfig):
    dim: int = 128  # d: width of control, summary, features and memory slots
    steps: int = 8  # K reasoning steps per frame
    slots: int = 8  # memory slots
    dropout: float = 0.15  # on the learned initial control state and initial summary
    embed_dim: int = 64  # word embedding
    question_hidden: int = 128  # BiLSTM units per direction (question vector = 2× this)
    cnn_channels: tuple[int, ...] = (32, 64, 64, 128)
    channels_last: bool = True  # CNN memory format (faster on CPU with bf16 autocast)
    xy_offset: int = -2  # state path: objects[..., xy_offset : xy_offset + 2] = (x, y) for pointing
    compile_step: bool = False  # torch.compile the reasoning step (fuses its small ops; first call compiles)
    null_item: bool = False  # a learned "nothing here" item appended to every frame's items (see module docstring)


class _ImageEncoder(nn.Module):
    """frames [B, T, 3, H, W] → features [B, T, h·w, d] (CNN, then a shared linear)."""

    def __init__(self, cfg: SAMNetConfig) -> None:
        super().__init__()
        self.cnn = CogCNN(3, cfg.cnn_channels, channels_last=cfg.channels_last)
        self.feature_proj = nn.Linear(self.cnn.out_channels, cfg.dim)

    def forward(self, frames: Tensor) -> Tensor:
        B, T = frames.shape[:2]
        x = self.cnn(frames.flatten(0, 1))  # (B·T, h·w, C), one batched call for all frames
        with torch.autocast("cpu", enabled=False):
            return self.feature_proj(x.float()).unflatten(0, (B, T))  # (B, T, h·w, d)


class _StateEncoder(nn.Module):
    """objects [B, T, N, F] (+ mask) → features [B, T, N, d], mask [B, T, N]."""

    def __init__(self, cfg: SAMNetConfig) -> None:
        super().__init__()
        self.objects = StateEncoder(cfg.object_features, cfg.dim)
        self.feature_proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, objects: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        x, mask = self.objects(objects.float(), mask)
        return self.feature_proj(x), mask


@register("samnet")
class SAMNet(ReasoningModel):
    Config = SAMNetConfig

    def __init__(self, cfg: SAMNetConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or SAMNetConfig()
        if cfg.path not in ("pixels", "state"):
            raise ValueError(f"samnet: path must be 'pixels' or 'state', not {cfg.path!r}")
        self.cfg = cfg
        d = cfg.dim
        self.question_encoder = QuestionEncoder(cfg.vocab_size, cfg.embed_dim, cfg.question_hidden, d)
        qdim = self.question_encoder.question_dim
        if cfg.path == "pixels":
            self.image_encoder = _ImageEncoder(cfg)
        else:
            self.state_encoder = _StateEncoder(cfg)
        self.controller = Controller(d, qdim, cfg.steps, cfg.dropout)
        self.reasoning_cell = SAMCell(d, cfg.steps, cfg.slots, cfg.dropout, cfg.compile_step)
        hidden = qdim + d
        self.output_unit = nn.Sequential(nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, cfg.num_answers))
        self.pointing_head = PointingHead(d, cfg.steps, cfg.grid) if cfg.pointing else None
        self.null_item = nn.Parameter(torch.zeros(d)) if cfg.null_item else None

    # -- interface -------------------------------------------------------------------------------
    def units(self) -> dict[str, nn.Module]:
        perception = ("image_encoder", self.image_encoder) if self.cfg.path == "pixels" else (
            "state_encoder", self.state_encoder)
        units = {"question_encoder": self.question_encoder, perception[0]: perception[1],
                 "controller": self.controller, "reasoning_cell": self.reasoning_cell,
                 "output_unit": self.output_unit}
        if self.pointing_head is not None:
            units["pointing_head"] = self.pointing_head
        return units

    def reset_head(self, num_answers: int) -> None:
        old = self.output_unit[2]
        self.output_unit[2] = nn.Linear(old.in_features, num_answers).to(old.weight.device, old.weight.dtype)
        self.cfg.num_answers = num_answers

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        cfg = self.cfg
        G = cfg.grid * cfg.grid if cfg.pointing else 0
        kernel: Tensor | None = None
        if cfg.path == "pixels":
            frames = batch["frames"]
            feats, mask = self.image_encoder(frames), None  # (B, T, N, d)
            h, w = self.image_encoder.cnn.feature_hw(frames.shape[-2], frames.shape[-1])
            if G and not (h == w == cfg.grid):
                kernel = feature_map_kernel(h, w, cfg.grid).to(feats.device)
        words, q, word_mask = self.question_encoder(batch["question"], batch["question_len"])  # ambient autocast
        with torch.autocast("cpu", enabled=False):
            words, q = words.float(), q.float()
            if cfg.path == "state":
                objects = batch["objects"]
                feats, mask = self.state_encoder(objects, batch.get("object_mask"))
                if G:
                    xy = objects[..., cfg.xy_offset: cfg.xy_offset + 2 or None].float()
                    kernel = location_kernel(xy, cfg.grid)  # (B, T, N, G)
            if self.null_item is not None:
                feats, mask, kernel = self._with_null_item(feats, mask, kernel, G)
            control, word_attn, temporal = self.controller(q, words, word_mask)
            cell = self.reasoning_cell(feats, mask, control, temporal, kernel, G, trace)
            T = feats.shape[1]
            out_in = torch.cat([q.unsqueeze(1).expand(-1, T, -1), cell.summary], dim=-1)  # (B, T, Q + d)
            result: dict[str, Any] = {"logits": self.output_unit(out_in)}
            if self.pointing_head is not None:
                result["point_logits"] = self.pointing_head(cell.summary, cell.evidence)
            if trace:
                tr = dict(cell.trace)
                if self.null_item is not None:  # report attention over the real items; the rest went to "nothing"
                    tr["null_attention"] = tr["visual_attention"][..., -1]
                    tr["visual_attention"] = tr["visual_attention"][..., :-1]
                tr["word_attention"] = word_attn.unsqueeze(1).expand(-1, T, -1, -1)  # (B, T, K, L)
                tr["temporal"] = temporal.unsqueeze(1).expand(-1, T, -1, -1)  # (B, T, K, 4)
                if cell.evidence is not None:
                    tr["point_evidence"] = cell.evidence  # (B, T, K, G)
                result["trace"] = tr
        return result

    def _with_null_item(self, feats: Tensor, mask: Tensor | None, kernel: Tensor | None,
                        G: int) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Append the learned null item: feats [B, T, N, d] → [B, T, N + 1, d]; mask gets True; the pointing
        kernel gets a zero row (attention on "nothing" is no location evidence)."""
        B, T, N, d = feats.shape
        feats = torch.cat([feats, self.null_item.expand(B, T, 1, d)], dim=2)
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(B, T, 1)], dim=2)
        if G:
            if kernel is None:  # identity: items are the grid cells
                kernel = torch.eye(N, G, dtype=feats.dtype, device=feats.device)
            pad = kernel.new_zeros(*kernel.shape[:-2], 1, kernel.shape[-1])
            kernel = torch.cat([kernel, pad], dim=-2)
        return feats, mask, kernel
