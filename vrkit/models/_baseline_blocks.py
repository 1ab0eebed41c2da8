"""Small private building blocks shared by the baseline models (cog_baseline, mac, relation_net, cnn_lstm).

Kept apart from ``models/layers/`` (SAMNet's blocks) so that the baselines do not depend on another model's
choices. Everything here is shape-documented and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vrkit.models.layers.attention import NEG_INF as NEG  # noqa: F401 - re-exported to the baselines
from vrkit.models.layers.attention import masked_softmax  # noqa: F401 - re-exported to the baselines
from vrkit.models.layers.pointing import location_kernel  # COG bump exp(-d²/0.02) over the grid
from vrkit.models.layers.question import reverse_within  # noqa: F401 - re-exported to the baselines


# ----------------------------------------------------------------------------------------------- question
class QuestionEncoder(nn.Module):
    """Word embedding (index 0 = padding) + (bi)LSTM (``num_layers``) over the valid tokens.

    forward(question [B, L], lengths [B]) -> (words [B, L, D], final [B, D]) with D = hidden · directions;
    ``final`` concatenates the top layer's last hidden state of each direction; pad positions of ``words``
    are 0.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden: int,
        bidirectional: bool = True,
        learned_init: bool = False,
        reverse: bool = False,
        num_layers: int = 1,
        trained_padding: bool = False,
    ) -> None:
        super().__init__()
        # trained_padding: id 0 gets an ordinary, trained embedding (a reference that reads its padding)
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=None if trained_padding else 0)
        self.lstm = nn.LSTM(embedding_size, hidden, num_layers=num_layers, batch_first=True,
                            bidirectional=bidirectional)
        self.dirs = 2 if bidirectional else 1
        self.layers = num_layers
        self.out_dim = hidden * self.dirs
        self.reverse = reverse
        if learned_init:
            self.h0 = nn.Parameter(torch.zeros(num_layers * self.dirs, hidden))
            self.c0 = nn.Parameter(torch.zeros(num_layers * self.dirs, hidden))
        else:
            self.h0 = self.c0 = None

    def forward(self, question: Tensor, lengths: Tensor, embedded: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``embedded`` [B, L, E]: word vectors to use instead of ``embed(question)`` (a reference that feeds
        questions already embedded); ``question`` then only gives the shape."""
        B, L = question.shape
        lengths = lengths.clamp(min=1, max=L)
        if embedded is not None:
            x = embedded.float()
        else:
            if self.reverse:
                question = reverse_within(question, lengths)
            x = self.embed(question)  # (B, L, E)
        hx = None
        if self.h0 is not None:
            hx = (self.h0.unsqueeze(1).expand(-1, B, -1).contiguous(),
                  self.c0.unsqueeze(1).expand(-1, B, -1).contiguous())
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = self.lstm(packed, hx)
        words, _ = pad_packed_sequence(out, batch_first=True, total_length=L)  # (B, L, D)
        h = h.view(self.layers, self.dirs, B, -1)[-1]  # top layer: (dirs, B, H)
        final = h.transpose(0, 1).reshape(B, self.out_dim)  # (B, dirs·H)
        return words, final


def word_mask(question: Tensor, lengths: Tensor) -> Tensor:
    """[B, L] bool: True on the first ``lengths[b]`` positions (at least one)."""
    L = question.shape[1]
    return torch.arange(L, device=question.device) < lengths.clamp(min=1).to(question.device).unsqueeze(1)


# ----------------------------------------------------------------------------------------------- vision
def conv_stack(
    channels: Sequence[int],
    stride: int = 1,
    pool: bool = True,
    plain_last: bool = False,
    in_channels: int = 3,
) -> nn.Sequential:
    """Blocks of conv 3×3 (padding 1, ``stride``) → [max-pool 2] → batch norm → ReLU.

    ``plain_last``: the last block uses a non-affine batch norm and no ReLU (the COG baseline CNN).
    Works for any image size; every block halves H and W (pool) or divides them by ``stride``.
    """
    layers: list[nn.Module] = []
    c_in = in_channels
    for i, c in enumerate(channels):
        last = plain_last and i == len(channels) - 1
        layers.append(nn.Conv2d(c_in, c, 3, stride=stride, padding=1))
        if pool:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        layers.append(nn.BatchNorm2d(c, affine=not last))
        if not last:
            layers.append(nn.ReLU())
        c_in = c
    return nn.Sequential(*layers)


def frames_float(frames: Tensor) -> Tensor:
    """Pixels as float: uint8 0–255 frames are scaled to [0, 1] (the data pipeline's "unit" scale); float
    frames are used as given (pixel_norm "unit" or "mean" of vrkit.data.cog)."""
    return frames.float().div_(255.0) if frames.dtype == torch.uint8 else frames.float()


def run_frames(cnn: nn.Module, frames: Tensor) -> Tensor:
    """frames [B, T, 3, H, W] -> feature maps [B·T, C, h, w] (all frames of the batch in one CNN call)."""
    B, T = frames.shape[:2]
    return cnn(frames.reshape(B * T, *frames.shape[2:]))


def to_grid(maps: Tensor, grid: int) -> Tensor:
    """[N, C, h, w] -> [N, C, grid, grid] (identity when h = w = grid; adaptive average pooling otherwise)."""
    if maps.shape[-2:] == (grid, grid):
        return maps
    return F.adaptive_avg_pool2d(maps, grid)


def cell_coords(h: int, w: int, device: torch.device | None = None, style: str = "unit") -> Tensor:
    """Coordinates (x, y) of the cells of an h×w lattice, row-major: [h·w, 2].

    ``style`` "unit": normalised centres (k + 0.5) / n ∈ (0, 1); "linspace": ``linspace(-n/2, n/2, n)`` per
    axis (RelationNetworks-CLEVR, ``model.py`` ``build_coord_tensor``: -4 … 4 on 8 cells)."""
    if style == "linspace":
        ys = torch.linspace(-h / 2, h / 2, h, device=device)
        xs = torch.linspace(-w / 2, w / 2, w, device=device)
    elif style == "unit":
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    else:
        raise ValueError(f"cell coordinates style must be 'unit' or 'linspace', got {style!r}")
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


# ----------------------------------------------------------------------------------------------- state
def state_inputs(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """objects [B, T, N, F] float and object_mask [B, T, N] bool (all True when the batch has none)."""
    objects = batch["objects"].float()
    mask = batch.get("object_mask")
    if mask is None:
        mask = torch.ones(objects.shape[:-1], dtype=torch.bool, device=objects.device)
    return objects, mask.bool()


def object_xy(objects: Tensor, xy_features: Sequence[int]) -> Tensor:
    """The normalised (x, y) of each object, read from feature indices ``xy_features``: [..., N, 2]."""
    ix, iy = (int(i) for i in xy_features)
    return torch.stack([objects[..., ix], objects[..., iy]], dim=-1)


# ------------------------------------------------------------------------------------------- grid / pointing
def objects_to_grid(values: Tensor, xy: Tensor, mask: Tensor, grid: int) -> Tensor:
    """Rasterise per-object vectors onto the grid: values [M, N, C], xy [M, N, 2], mask [M, N] -> [M, G, C].
    """
    w = location_kernel(xy, grid) * mask.unsqueeze(-1).to(values.dtype)  # (M, N, G)
    return torch.einsum("mng,mnc->mgc", w, values)


def item_probs_to_point_logits(probs: Tensor, xy: Tensor, grid: int, eps: float = 1e-6) -> Tensor:
    """An attention over objects -> pointing logits: log Σ_n p_n · bump_n. probs [M, N] -> [M, G]."""
    q = torch.einsum("mn,mng->mg", probs, location_kernel(xy, grid))
    return torch.log(q + eps)


def masked_mean(x: Tensor, mask: Tensor, dim: int) -> Tensor:
    """Mean of ``x`` over ``dim`` counting only positions where ``mask`` (broadcast to x) is True."""
    m = mask.to(x.dtype)
    while m.dim() < x.dim():
        m = m.unsqueeze(-1)
    return (x * m).sum(dim) / m.sum(dim).clamp(min=1.0)
