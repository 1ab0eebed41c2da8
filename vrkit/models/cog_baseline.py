"""The COG baseline (Yang et al., ECCV 2018): attention-gated CNN, GRU controller, visual short-term memory.

Reads top to bottom. Facts follow the released model of the paper (restated, not copied):

* question: word embedding 64, bidirectional LSTM 128 per direction with learned initial states;
  per-word outputs (256) form the semantic memory, the two final hidden states the question vector.
* vision: 4 × (conv 3×3 → max-pool 2 → batch norm → ReLU), channels 32, 64, 64, 128; the last block has a
  non-affine batch norm and no ReLU. 112×112 → 7×7×128. (The release subtracts the VGG channel means from
  0–255 pixels: the data pipeline's ``pixel_norm="mean"``; uint8 frames are scaled to [0, 1] here.)
* controller: a GRU (768 units) that runs ``time_repeat`` = 5 steps on every frame (the frame is shown five
  times; only the last step answers). Each step:
  - verbal attention: additive (Bahdanau) attention, query size 128, from the GRU state over the per-word
    outputs → retrieved word vector (256);
  - feature attention: linear (zero-initialised) of the retrieved vector → per-channel shift and scale;
    maps ← ReLU((maps + shift) · ReLU(scale + 1));
  - spatial attention: MLP state → 10 (ReLU) → 49, softmax over locations; maps ← maps · attention;
  - vSTM: a convolutional LSTM-like store of 4 maps of 7×7 whose gates come from a linear of
    [state, retrieved]: input gates (sigmoid, 128×4: a per-sample 1×1 conv of the attended maps), forget
    gates (sigmoid(f + 0.3), one per map), output gates (linear, 4 → 1 map): out = Σ_m o_m · tanh(store_m);
  - GRU input: [linear(flattened attended maps) (128), previous store (196), retrieved (256),
    spatial attention (49), spatial sum of the attended maps (128)].
* outputs: word logits = linear of the GRU state; pointing logits = the vSTM output map (49), as in the
  released configuration (``only_vis_to_pnt``).

Choices where the paper/release leaves it open (documented):
* verbal attention ignores padded words (the release attends over every padded position).
* the recurrent-state norm clip (10 000 in the release, practically never active) is omitted.
* image sizes other than 112: the CNN output is adaptively average-pooled to ``grid × grid`` so attention,
  vSTM and pointing always live on the 7×7 pointing lattice (identity at 112×112).
* state path: each object is embedded by a linear F → 128 and rasterised onto the grid with the COG
  target bump exp(-d²/0.02) at its (x, y) (features ``xy_features``, by default the last two), giving the same
  7×7×128 map the CNN gives; everything downstream is shared.
* the answer layer has only the word classes (the release's unused 49 pointing columns are not built).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.models._baseline_blocks import (
    QuestionEncoder,
    conv_stack,
    frames_float,
    masked_softmax,
    object_xy,
    objects_to_grid,
    run_frames,
    state_inputs,
    to_grid,
    word_mask,
)
from vrkit.models.base import IOConfig, ReasoningModel
from vrkit.models.registry import register


@dataclass
class CogBaselineConfig(IOConfig):
    embedding_size: int = 64
    question_units: int = 128  # per direction
    cnn_channels: tuple[int, ...] = (32, 64, 64, 128)
    controller_units: int = 768  # GRU
    attention_query: int = 128  # verbal (Bahdanau) attention width
    vis_units: int = 128  # linear read-out of the attended maps into the GRU
    spatial_hidden: int = 10
    vstm_maps: int = 4
    vstm_forget_bias: float = 0.3
    time_repeat: int = 5  # controller steps per frame
    xy_features: tuple[int, int] = (-2, -1)  # state path: indices of the normalised (x, y) features


class _Controller(nn.Module):
    """GRU controller with verbal, feature and spatial attention (one step: :meth:`step`)."""

    def __init__(self, c: CogBaselineConfig, word_dim: int, channels: int, G: int) -> None:
        super().__init__()
        U, Q = c.controller_units, c.attention_query
        self.h0 = nn.Parameter(torch.zeros(U))
        self.att_keys = nn.Linear(word_dim, Q, bias=False)
        self.att_query = nn.Linear(U, Q, bias=False)
        self.att_v = nn.Linear(Q, 1, bias=False)
        self.feature_attn = nn.Linear(word_dim, 2 * channels)
        nn.init.zeros_(self.feature_attn.weight)
        nn.init.zeros_(self.feature_attn.bias)
        self.spatial = nn.Sequential(nn.Linear(U, c.spatial_hidden), nn.ReLU(),
                                     nn.Linear(c.spatial_hidden, G))
        self.vis_fc = nn.Linear(G * channels, c.vis_units)
        core_in = c.vis_units + G * c.vstm_maps + word_dim + G + channels
        self.gru = nn.GRUCell(core_in, U)

    def attend_words(self, h: Tensor, keys: Tensor, words: Tensor, wmask: Tensor) -> tuple[Tensor, Tensor]:
        """h [B, U], keys [B, L, Q], words [B, L, W] -> retrieved [B, W], attention [B, L]."""
        score = self.att_v(torch.tanh(keys + self.att_query(h).unsqueeze(1))).squeeze(-1)  # (B, L)
        alpha = masked_softmax(score, wmask)
        return torch.einsum("bl,blw->bw", alpha, words), alpha

    def attend_maps(self, maps: Tensor, h: Tensor, retrieved: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """maps [B, G, C] -> attended maps [B, G, C], spatial attention [B, G], feature scale [B, C]."""
        shift, scale = self.feature_attn(retrieved).chunk(2, dim=-1)
        scale = torch.relu(scale + 1.0)
        x = torch.relu((maps + shift.unsqueeze(1)) * scale.unsqueeze(1))
        sa = torch.softmax(self.spatial(h), dim=-1)  # (B, G)
        return x * sa.unsqueeze(-1), sa, scale


class _VSTM(nn.Module):
    """Visual short-term memory: ``maps`` stores of grid×grid written through externally controlled gates."""

    def __init__(self, c: CogBaselineConfig, ctrl_in: int, channels: int, G: int) -> None:
        super().__init__()
        self.C, self.M, self.G = channels, c.vstm_maps, G
        self.forget_bias = c.vstm_forget_bias
        self.ctrl = nn.Linear(ctrl_in, channels * self.M + self.M + self.M)
        nn.init.zeros_(self.ctrl.bias)
        self.init = nn.Parameter(torch.zeros(G * self.M))

    def forward(self, x: Tensor, store: Tensor, ctrl_in: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, G, C], store [B, G, M] -> (output map [B, G], new store [B, G, M], forget gates [B, M])."""
        B = x.shape[0]
        i, f, o = self.ctrl(ctrl_in).split([self.C * self.M, self.M, self.M], dim=-1)
        gated_in = torch.einsum("bgc,bcm->bgm", x, torch.sigmoid(i).view(B, self.C, self.M))
        forget = torch.sigmoid(f + self.forget_bias)  # (B, M)
        new = gated_in + store * forget.unsqueeze(1)
        out = torch.einsum("bgm,bm->bg", torch.tanh(new), o)
        return out, new, forget


@register("cog_baseline")
class CogBaseline(ReasoningModel):
    """forward(batch) -> logits [B, T, A], point_logits [B, T, grid²] (when ``pointing``), trace (optional).

    trace: word_attention [B, T, R, L], spatial_attention [B, T, R, G], feature_scale [B, T, R, C],
    vstm_forget [B, T, R, maps] with R = ``time_repeat``.
    """

    Config = CogBaselineConfig

    def __init__(self, config: CogBaselineConfig) -> None:
        super().__init__()
        self.config = c = config
        G = c.grid * c.grid
        C = c.cnn_channels[-1]
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_size, c.question_units,
                                                bidirectional=True, learned_init=True)
        W = self.question_encoder.out_dim
        if c.path == "pixels":
            self.visual = conv_stack(c.cnn_channels, pool=True, plain_last=True)
        elif c.path == "state":
            self.visual = nn.Linear(c.object_features, C)
        else:
            raise ValueError(f"cog_baseline: unknown path {c.path!r} (pixels | state)")
        self.controller = _Controller(c, W, C, G)
        self.vstm = _VSTM(c, c.controller_units + W, C, G)
        self.head = nn.Linear(c.controller_units, c.num_answers)

    @classmethod
    def small_config(cls) -> dict[str, Any]:
        return {**super().small_config(), "time_repeat": 2}

    # ------------------------------------------------------------------ perception: a grid map per frame
    def frame_maps(self, batch: dict[str, Tensor]) -> Tensor:
        """-> [B, T, G, C] feature vectors on the grid×grid lattice."""
        c = self.config
        if c.path == "pixels":
            frames = frames_float(batch["frames"])
            B, T = frames.shape[:2]
            maps = to_grid(run_frames(self.visual, frames), c.grid)  # (B·T, C, g, g)
            return maps.flatten(2).transpose(1, 2).reshape(B, T, c.grid * c.grid, -1)
        objects, mask = state_inputs(batch)
        B, T, N, _ = objects.shape
        emb = self.visual(objects).reshape(B * T, N, -1)  # (B·T, N, C)
        xy = object_xy(objects, c.xy_features).reshape(B * T, N, 2)
        maps = objects_to_grid(emb, xy, mask.reshape(B * T, N), c.grid)  # (B·T, G, C)
        return maps.reshape(B, T, c.grid * c.grid, -1)

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:
        c = self.config
        question, qlen = batch["question"], batch["question_len"]
        words, _ = self.question_encoder(question, qlen)  # (B, L, W)
        wmask = word_mask(question, qlen)
        keys = self.controller.att_keys(words)  # (B, L, Q)
        maps = self.frame_maps(batch)  # (B, T, G, C)
        B, T = maps.shape[:2]
        h = self.controller.h0.expand(B, -1)
        store = self.vstm.init.view(1, -1, c.vstm_maps).expand(B, -1, -1)
        logits, points = [], []
        tr: dict[str, list[Tensor]] = {k: [] for k in ("word_attention", "spatial_attention",
                                                       "feature_scale", "vstm_forget")}
        for t in range(T):
            for _ in range(c.time_repeat):
                retrieved, alpha = self.controller.attend_words(h, keys, words, wmask)
                x, sa, scale = self.controller.attend_maps(maps[:, t], h, retrieved)
                vout, new_store, forget = self.vstm(x, store, torch.cat([h, retrieved], dim=-1))
                core_in = torch.cat([self.controller.vis_fc(x.flatten(1)), store.flatten(1), retrieved, sa,
                                     x.sum(1)], dim=-1)
                h = self.controller.gru(core_in, h)
                store = new_store
                if trace:
                    for k, v in zip(tr, (alpha, sa, scale, forget)):
                        tr[k].append(v)
            logits.append(self.head(h))
            points.append(vout)
        out: dict[str, Any] = {"logits": torch.stack(logits, 1)}  # (B, T, A)
        if c.pointing:
            out["point_logits"] = torch.stack(points, 1)  # (B, T, G)
        if trace:
            R = c.time_repeat
            out["trace"] = {k: torch.stack(v, 1).view(B, T, R, -1) for k, v in tr.items()}
        return out

    def units(self) -> dict[str, nn.Module]:
        return {
            "question_encoder": self.question_encoder,
            "cnn" if self.config.path == "pixels" else "state_encoder": self.visual,
            "controller": self.controller,
            "vstm": self.vstm,
            "head": self.head,
        }
