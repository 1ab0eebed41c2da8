"""SAMNet — Selective Attention Memory Network (Jayram et al., 2019; docs/models.md, 'SAMNet'), on pixels or on
symbolic scene states.

Per question: a BiLSTM question encoder and a controller producing K control states (word attention,
temporal-class weights now/last/latest/none). Per frame, in order: K reasoning steps, each retrieving a
visual object (attention over the frame's feature vectors) and a memory object (attention over N memory
slots), gating them with a tiny MLP on (temporal weights, attention peakedness), updating the summary;
the memory (frozen during the frame) receives the K writes after the frame's last step. An output unit
answers from [question, final summary] at every frame. Defaults: d = 128, K = 8, 8 slots; the pixel COG
configuration has exactly the reference's 1,014,879 parameters without the pointing head.

Perception
    pixels: frames [B, T, 3, H, W] in [0, 1] → COG CNN (all B·T frames in one call; bf16 autocast and
            channels-last friendly) → (H/16)·(W/16) feature vectors of d (the CNN's last width is d).
    state:  objects [B, T, N, F] + object_mask → linear F → d (the object embeddings).
    Either way the items have a linear projection d → d (``feature_proj``). As in the reference, the
    projection only meets the projected summary inside the visual interaction; attention reads, the visual
    object and so the memory hold the unprojected items (``visual_values="raw"``). The two paths differ only
    in perception.
Under CPU autocast (bf16) the CNN and the question LSTM run in bf16 (oneDNN kernels: ~1.7× for the LSTM);
everything else runs in fp32 (autocast is disabled there): the reasoning core is made of small ops for which
bf16 only adds casts, and its recurrences keep full precision.

The reference computation and the options (docs/samnet-reference.md)
    The defaults compute what the reference implementation (IBM mi-prometheus, tag SAM-Net_v13,
    ``models/vwm_model``) computes on the same weights: ``visual_values="raw"``; ``question_padding="full"``
    (questions padded with 0 to ``question_tokens`` = 24, the BiLSTM and the word attention run over the
    padding); ``init="reference"`` (:func:`reference_init`); ``init_dropout="shared"`` (one dropout mask on the
    initial control state and summary per forward, reused by every frame). vrkit's earlier choices are the
    named alternatives ``projected``, ``masked``, ``torch`` and ``per_frame``. The reference feeds frames in
    0–255; vrkit feeds [0, 1] (``vrkit convert mi-prometheus`` folds the 255 into the first convolution).

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
    question_encoder 236,608 · image_encoder 147,008 (CNN 130,496 + feature projection 16,512) ·
    controller 313,348 (reference 313,220 + learned initial control state 128) · reasoning_cell 148,900
    (reference SAM cell 148,772 + learned initial summary 128) · output_unit 169,015 · pointing_head 6,330.
    Total 1,021,209 = 1,014,879 (reference, exactly) + 6,330. State path: ``state_encoder`` (linear F → d and
    the feature projection) replaces ``image_encoder``.

Null item (``null_item=True``; our addition, tried while prototyping SAMNet on CPU): a learned vector appended
    to every frame's items, so visual attention has somewhere to rest when nothing matches ("exist?" questions
    then read "attention went to nothing"). It has no location (zero row in the pointing kernel); the trace's
    ``visual_attention`` covers the real items only and ``null_attention`` [B, T, K] holds the rest.
    d extra parameters (the unprojected items' width).

Trace (``forward(batch, trace=True)["trace"]``), per frame t and step k, shapes [B, T, K, ·]:
    visual_attention (N items), word_attention (L words), temporal (now, last, latest, none), gates
    (image_match, memory_match, do_replace, do_add_new), read_head (S slots), visual_object and
    memory_object (d), write_head (S, the head step k writes through), write_weight (S, what step k writes),
    write_head_after (S, after step k's shift), memory (S × d, after step k's write), point_evidence (G; with
    pointing); and control [B, K, d].

Two paths, one function: ``cell="plain"`` evaluates the controller and the cell step by step as the paper
writes them (``_samnet_plain``, the readable reference); the default ``cell="fused"`` is the fast path.

Speed: the cell is evaluated in an algebraically fused form (see ``_samnet_cell``), the masked question
BiLSTM as two unpacked runs (same result as packing), the CNN on all B·T frames at once. ``compile_step=True``
torch.compiles the reasoning step (minutes of compilation on a 2-core CPU; modest gain). Training code should
call ``vrkit.models.perf.cpu_speedups()`` once (flush denormals, keep freed memory in the heap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.models._samnet_cell import GATES, TEMPORAL_CLASSES, Controller, SAMCell
from vrkit.models._samnet_plain import PlainController, PlainSAMCell
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.layers import CogCNN, PointingHead, QuestionEncoder, StateEncoder
from vrkit.models.layers.pointing import feature_map_kernel, location_kernel
from vrkit.models.registry import register

__all__ = ["GATES", "OPTIONS", "TEMPORAL_CLASSES", "SAMNet", "SAMNetConfig", "reference_init"]


REFERENCE_QUESTION_TOKENS = 24  # the reference pads every COG question to 24 tokens
OPTIONS = {"visual_values": ("raw", "projected"), "question_padding": ("full", "masked"),
           "init": ("reference", "torch"), "init_dropout": ("shared", "per_frame"), "cell": ("fused", "plain")}


@dataclass
class SAMNetConfig(IOConfig):
    dim: int = 128  # d: width of control, summary, features and memory slots
    steps: int = 8  # K reasoning steps per frame
    slots: int = 8  # memory slots
    dropout: float = 0.15  # on the learned initial control state and initial summary
    embed_dim: int = 64  # word embedding
    question_hidden: int = 128  # BiLSTM units per direction (question vector = 2× this)
    cnn_channels: tuple[int, ...] | None = None  # None: (32, 64, 64, dim) as in the reference
    channels_last: bool = True  # CNN memory format (faster on CPU with bf16 autocast)
    xy_offset: int = -2  # state path: objects[..., xy_offset : xy_offset + 2] = (x, y) for pointing
    compile_step: bool = False  # torch.compile the reasoning step (fuses its small ops; first call compiles)
    null_item: bool = False  # a learned "nothing here" item appended to every frame's items (see module docstring)
    # The reference computation (defaults) and vrkit's earlier choices as named options (docs/samnet-reference.md):
    visual_values: str = "raw"  # raw: attention reads unprojected features | projected: the projections
    question_padding: str = "full"  # full: pad to question_tokens, read and attend over padding | masked
    question_tokens: int = REFERENCE_QUESTION_TOKENS  # padding length for question_padding=full
    init: str = "reference"  # reference: Xavier / zero bias, CNN ReLU-gain Xavier, zero initial states | torch
    init_dropout: str = "shared"  # shared: one dropout mask per forward for every frame | per_frame
    # How the controller and the cell are evaluated (same parameters, same function): fused (fast) | plain
    # (step by step as the paper writes it: vrkit/models/_samnet_plain.py, the readable reference path)
    cell: str = "fused"

    def __post_init__(self) -> None:
        for name, allowed in OPTIONS.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"samnet: {name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.cnn_channels is None:
            self.cnn_channels = (32, 64, 64, self.dim)
        self.cnn_channels = tuple(self.cnn_channels)
        if self.path == "pixels" and self.visual_values == "raw" and self.cnn_channels[-1] != self.dim:
            raise ValueError(f"samnet: visual_values=raw stores CNN features in memory, so the last CNN width "
                             f"must equal dim ({self.dim}), not {self.cnn_channels[-1]}")


class _ImageEncoder(nn.Module):
    """frames [B, T, 3, H, W] → CNN features [B, T, h·w, C] (fp32); ``feature_proj`` maps them to d."""

    def __init__(self, cfg: SAMNetConfig) -> None:
        super().__init__()
        self.cnn = CogCNN(3, cfg.cnn_channels, channels_last=cfg.channels_last)
        self.feature_proj = nn.Linear(self.cnn.out_channels, cfg.dim)

    def forward(self, frames: Tensor) -> Tensor:
        B, T = frames.shape[:2]
        x = self.cnn(frames.flatten(0, 1))  # (B·T, h·w, C), one batched call for all frames
        return x.to(frames.dtype).unflatten(0, (B, T))  # back to the input's precision after bf16 autocast


class _StateEncoder(nn.Module):
    """objects [B, T, N, F] (+ mask) → object embeddings [B, T, N, d], mask [B, T, N]; ``feature_proj`` d → d."""

    def __init__(self, cfg: SAMNetConfig) -> None:
        super().__init__()
        self.objects = StateEncoder(cfg.object_features, cfg.dim)
        self.feature_proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, objects: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.objects(objects.float(), mask)


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
        self.question_encoder = QuestionEncoder(cfg.vocab_size, cfg.embed_dim, cfg.question_hidden, d,
                                                padding=cfg.question_padding, pad_to=cfg.question_tokens)
        qdim = self.question_encoder.question_dim
        if cfg.path == "pixels":
            self.image_encoder = _ImageEncoder(cfg)
        else:
            self.state_encoder = _StateEncoder(cfg)
        controller, cell = (PlainController, PlainSAMCell) if cfg.cell == "plain" else (Controller, SAMCell)
        self.controller = controller(d, qdim, cfg.steps, cfg.dropout)
        self.reasoning_cell = cell(d, cfg.steps, cfg.slots, cfg.dropout, cfg.compile_step,
                                   shared_dropout=cfg.init_dropout == "shared")
        hidden = qdim + d
        self.output_unit = nn.Sequential(nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, cfg.num_answers))
        self.pointing_head = PointingHead(d, cfg.steps, cfg.grid) if cfg.pointing else None
        width = cfg.cnn_channels[-1] if cfg.path == "pixels" else d  # the unprojected items' width
        self.null_item = nn.Parameter(torch.zeros(width)) if cfg.null_item else None
        if cfg.init == "reference":
            reference_init(self)

    @classmethod
    def small_config(cls) -> dict[str, Any]:
        small = super().small_config()
        small["cnn_channels"] = (*small["cnn_channels"][:-1], small["dim"])  # raw values: CNN width = dim
        return small

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

    def perceive(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Unprojected items [B, T, N, d_in], mask [B, T, N] | None and the pointing kernel (None: identity or
        no pointing). Pixels: CNN feature maps (cells row-major); state: the object embeddings."""
        cfg = self.cfg
        if cfg.path == "pixels":
            frames = batch["frames"]
            h, w = self.image_encoder.cnn.feature_hw(frames.shape[-2], frames.shape[-1])
            kernel = None
            if cfg.pointing and not (h == w == cfg.grid):
                kernel = feature_map_kernel(h, w, cfg.grid).to(frames.device)
            return self.image_encoder(frames), None, kernel
        with torch.autocast(batch["objects"].device.type, enabled=False):
            objects = batch["objects"]
            items, mask = self.state_encoder(objects, batch.get("object_mask"))
            kernel = None
            if cfg.pointing:
                xy = objects[..., cfg.xy_offset: cfg.xy_offset + 2 or None].float()
                kernel = location_kernel(xy, cfg.grid)  # (B, T, N, G)
        return items, mask, kernel

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        cfg = self.cfg
        n_cells = cfg.grid * cfg.grid if cfg.pointing else 0  # grid cells pointed at (0: no pointing)
        items, mask, kernel = self.perceive(batch)
        words, q, word_mask = self.question_encoder(batch["question"], batch["question_len"])  # ambient autocast
        with torch.autocast(items.device.type, enabled=False):
            words, q = words.to(items.dtype), q.to(items.dtype)  # fp32 after bf16 autocast
            if self.null_item is not None:
                items, mask, kernel = self._with_null_item(items, mask, kernel, n_cells)
            encoder = self.image_encoder if cfg.path == "pixels" else self.state_encoder
            keys = encoder.feature_proj(items)
            values = items if cfg.visual_values == "raw" else keys
            control, word_attn, temporal = self.controller(q, words, word_mask)
            cell = self.reasoning_cell(values, keys, mask, control, temporal, kernel, n_cells, trace)
            T = items.shape[1]
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
                tr["control"] = control  # (B, K, d)
                if cell.evidence is not None:
                    tr["point_evidence"] = cell.evidence  # (B, T, K, G)
                result["trace"] = tr
        return result

    def _with_null_item(self, feats: Tensor, mask: Tensor | None, kernel: Tensor | None,
                        n_cells: int) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Append the learned null item: items [B, T, N, d] → [B, T, N + 1, d]; mask gets True; the pointing
        kernel gets a zero row (attention on "nothing" is no location evidence)."""
        B, T, N, d = feats.shape
        feats = torch.cat([feats, self.null_item.expand(B, T, 1, d)], dim=2)
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(B, T, 1)], dim=2)
        if n_cells:
            if kernel is None:  # identity: items are the grid cells
                kernel = torch.eye(N, n_cells, dtype=feats.dtype, device=feats.device)
            pad = kernel.new_zeros(*kernel.shape[:-2], 1, kernel.shape[-1])
            kernel = torch.cat([kernel, pad], dim=-2)
        return feats, mask, kernel


def reference_init(model: SAMNet) -> None:
    """The reference implementation's initialisation: every linear layer of the reasoning units Xavier-uniform
    with zero bias (the controller's per-step question projections one step at a time); the CNN's convolutions
    Xavier-uniform with the ReLU gain and bias 0.01; the output unit's first layer Kaiming-uniform; the learned
    initial control state and summary zero. The question encoder's embedding, LSTM and word projection keep
    PyTorch's defaults (as in the reference), and so do vrkit's additions (pointing head, null item)."""
    def xavier(layer: nn.Linear) -> None:
        nn.init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)

    with torch.no_grad():
        ctl = model.controller
        for k in range(ctl.step_weight.shape[0]):
            nn.init.xavier_uniform_(ctl.step_weight[k])
        ctl.step_bias.zero_()
        ctl.init_control.zero_()
        model.reasoning_cell.init_summary.zero_()
        for unit in (ctl, model.reasoning_cell):
            for m in unit.modules():
                if isinstance(m, nn.Linear):
                    xavier(m)
        if model.cfg.path == "pixels":
            for m in model.image_encoder.cnn.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("relu"))
                    nn.init.constant_(m.bias, 0.01)
            xavier(model.image_encoder.feature_proj)
        else:
            xavier(model.state_encoder.objects.embed)
            xavier(model.state_encoder.feature_proj)
        first, last = model.output_unit[0], model.output_unit[2]
        nn.init.kaiming_uniform_(first.weight)
        nn.init.zeros_(first.bias)
        xavier(last)
