"""Heads on IV-CL's encoder for pretraining baselines and transfer (docs/ivcl.md):

* :class:`ClipClassifier` — frames → per-frame slots (IV-CL's image encoder) → temporal transformer →
  attention pooling → class logits. Every vision initialisation of ``vrkit transfer pretrain`` fine-tunes this
  same network; only where its weights start differs.
* :class:`StateClassifier` — the state path: each frame's visible objects (feature vectors) are the frame's
  tokens, then the same temporal transformer and pooling.
* :class:`LinearProbe` — one linear layer on a frozen encoder's last-frame context slots.
* :class:`AttributeHead` / :class:`SetHead` — the supervised pretraining objectives (the image-classification
  and detection analogues): per-frame attribute presence (multi-label) and a set of object predictions
  matched to the visible objects with the Hungarian algorithm (DETR's loss; Carion et al., 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.models.ivcl import IVCL, TemporalMixer


def frozen(module: nn.Module) -> bool:
    """Whether none of ``module``'s weights train (``requires_grad`` off for all)."""
    return not any(p.requires_grad for p in module.parameters())


class AttnPool(nn.Module):
    """A learned query attends over tokens [B, L, d] (keep [B, L] bool: False = ignore) → [B, d]."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, keep: Tensor | None = None) -> Tensor:
        q = self.query.expand(tokens.shape[0], -1, -1)  # (B, 1, d)
        pad = None if keep is None else ~keep
        out, _ = self.attn(q, tokens, tokens, key_padding_mask=pad, need_weights=False)  # (B, 1, d)
        return self.norm(out[:, 0])


class ClipClassifier(nn.Module):
    """frames [B, T, 3, H, W] → logits [B, classes]. ``backbone``'s temporal transformer is used when it has
    one, else a fresh one of ``temporal_depth`` blocks; its decoder is dropped."""

    def __init__(self, backbone: IVCL, classes: int, temporal_depth: int | None = None) -> None:
        super().__init__()
        c = backbone.config
        backbone.drop_decoder()
        self.temporal = backbone.temporal or TemporalMixer(c.dim, temporal_depth or c.temporal_depth, c.heads,
                                                           c.mlp_ratio)
        backbone.temporal = None  # owned here: the backbone is the per-frame encoder only
        self.encoder = backbone
        self.pool = AttnPool(c.dim, c.heads)
        self.head = nn.Linear(c.dim, classes)

    def train(self, mode: bool = True) -> ClipClassifier:
        super().train(mode)
        if frozen(self.encoder):
            self.encoder.eval()  # a frozen encoder never trains (it has no dropout: the same outputs either way)
        return self

    def features(self, frames: Tensor) -> Tensor:
        """The encoder's per-frame slots [B, T, k, d]: all a frozen encoder contributes."""
        return self.encoder.encode(frames)[0]

    def from_features(self, slots: Tensor) -> Tensor:
        """The rest of the network: slots [B, T, k, d] → logits [B, classes]."""
        slots = self.temporal(slots)
        B, T, k, d = slots.shape
        return self.head(self.pool(slots.reshape(B, T * k, d)))

    def forward(self, frames: Tensor) -> Tensor:
        return self.from_features(self.features(frames))


class StateClassifier(nn.Module):
    """objects [B, T, M, F] + object_mask [B, T, M] (visible objects) → logits [B, classes]."""

    def __init__(self, features: int, classes: int, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(features, dim), nn.GELU(), nn.Linear(dim, dim))
        self.temporal = TemporalMixer(dim, depth, heads)
        self.pool = AttnPool(dim, heads)
        self.head = nn.Linear(dim, classes)

    def forward(self, objects: Tensor, object_mask: Tensor) -> Tensor:
        B, T, M, _ = objects.shape
        keep = object_mask.clone()
        keep[:, :, 0] |= ~object_mask.any(dim=2)  # a frame with nothing visible keeps one (zero) token
        x = self.temporal(self.embed(objects) * keep[..., None], keep)  # (B, T, M, d)
        return self.head(self.pool(x.reshape(B, T * M, -1), keep.reshape(B, T * M)))


class LinearProbe(nn.Module):
    """A frozen encoder's features of the last frame (its k context slots, concatenated) → one linear layer."""

    def __init__(self, backbone: IVCL, classes: int) -> None:
        super().__init__()
        backbone.drop_decoder()
        self.encoder = backbone.requires_grad_(False).eval()
        c = backbone.config
        self.head = nn.Linear(c.slots * c.dim, classes)

    def train(self, mode: bool = True) -> LinearProbe:
        super().train(mode)
        self.encoder.eval()  # frozen: never in training mode
        return self

    def features(self, frames: Tensor) -> Tensor:
        """The frozen encoder's context slots of the last frame, [B, k, d]."""
        with torch.no_grad():
            return self.encoder.features(frames)[:, -1]

    def from_features(self, feats: Tensor) -> Tensor:
        return self.head(feats.flatten(1))

    def forward(self, frames: Tensor) -> Tensor:
        return self.from_features(self.features(frames))


class AttributeHead(nn.Module):
    """Per-frame attribute presence: slots [B, T, k, d] → logits [B, T, A] (mean of the frame's slots)."""

    def __init__(self, dim: int, attributes: int) -> None:
        super().__init__()
        self.norm, self.out = nn.LayerNorm(dim), nn.Linear(dim, attributes)

    def forward(self, slots: Tensor) -> Tensor:
        return self.out(self.norm(slots.mean(dim=2)))

    @staticmethod
    def loss(logits: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)


class SetHead(nn.Module):
    """Object set prediction per frame: ``queries`` learned queries attend over the frame's tokens
    [B, T, L, d] → existence logits [B, T, Q] and object features [B, T, Q, F]."""

    def __init__(self, dim: int, heads: int, queries: int, features: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(0.02 * torch.randn(queries, dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, features + 1))

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        B, T, L, d = tokens.shape
        q = self.queries.expand(B * T, -1, -1)  # (BT, Q, d)
        kv = tokens.reshape(B * T, L, d)
        out, _ = self.attn(q, kv, kv, need_weights=False)  # (BT, Q, d)
        y = self.mlp(self.norm(out + q)).reshape(B, T, q.shape[1], -1)
        return y[..., 0], y[..., 1:]

    @staticmethod
    def loss(exist: Tensor, pred: Tensor, objects: Tensor, object_mask: Tensor) -> Tensor:
        """Hungarian-matched set loss: exist [B, T, Q], pred [B, T, Q, F], objects [B, T, M, F], object_mask
        [B, T, M]. Each visible object is matched to one query (cost: L1 distance of features minus the
        query's existence probability); matched queries regress their object's features (L1) and every query
        learns whether it is matched (binary cross-entropy)."""
        from scipy.optimize import linear_sum_assignment

        B, T, Q, _ = pred.shape
        with torch.no_grad():
            cost = torch.cdist(pred.float().reshape(B * T, Q, -1), objects.float().reshape(B * T, -1, pred.shape[-1]),
                               p=1) / pred.shape[-1] - exist.float().sigmoid().reshape(B * T, Q, 1)
            cost = cost.cpu().numpy()
        masks = object_mask.reshape(B * T, -1).cpu().numpy()
        qi, oi, fi = [], [], []
        for f in range(B * T):
            cols = masks[f].nonzero()[0][:Q]
            if len(cols) == 0:
                continue
            r, c = linear_sum_assignment(cost[f][:, cols])
            qi += r.tolist()
            oi += cols[c].tolist()
            fi += [f] * len(r)
        target_exist = torch.zeros(B * T, Q, device=exist.device)
        flat_pred, flat_obj = pred.reshape(B * T, Q, -1), objects.reshape(B * T, objects.shape[2], -1)
        reg = pred.new_zeros(())
        if fi:
            f_idx, q_idx, o_idx = (torch.tensor(v, device=exist.device) for v in (fi, qi, oi))
            target_exist[f_idx, q_idx] = 1.0
            reg = F.l1_loss(flat_pred[f_idx, q_idx], flat_obj[f_idx, o_idx])
        bce = F.binary_cross_entropy_with_logits(exist.reshape(B * T, Q), target_exist)
        return bce + reg
