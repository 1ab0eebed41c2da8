"""One feature vector per image from a reasoning model (private helper of :mod:`vrkit.retrieval.features`).

Every function takes the model (eval mode) and a batch of B images (T = 1, one question per row) and
returns float32 ``[B, D]``:

* :func:`relation_features` — ``"2s"`` / ``"avf"`` of :meth:`RelationNet.extract_features` (question-free),
  pooled over pairs by ``pool``;
* :func:`summary_features` — SAMNet's final summary (the last ``dim`` entries of the output unit's input
  ``[q, summary]``) or MAC's final memory (the last ``d`` entries of ``[q, m_p]``), caught with a forward
  hook on the output unit, so the model's own forward runs unchanged;
* :func:`cnn_features` — the model's perception items (CNN feature-map cells, or encoded objects on the
  state path) pooled by mean and max over the valid items: ``[mean (C), max (C)]``, no relations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def check_kind(model: nn.Module, kind: str) -> None:
    """ValueError when ``model`` cannot give features ``kind`` (before any image is read)."""
    from vrkit.models.mac import MAC
    from vrkit.models.relation_net import RelationNet
    from vrkit.models.samnet import SAMNet

    name = type(model).__name__
    if kind in ("2s", "avf"):
        if not isinstance(model, RelationNet):
            raise ValueError(f"'{kind}' features need a relation_net checkpoint, got {name}")
        if kind == "avf" and model.g.a > model.g.k:
            raise ValueError("'avf' features need aggregate_layer <= q_inject_layer "
                             f"(this relation_net has {model.g.a} > {model.g.k})")
    elif kind == "summary":
        _output_unit(model)
    elif not isinstance(model, RelationNet | SAMNet | MAC):
        raise ValueError(f"'cnn' features support relation_net, samnet and mac, got {name}")


def relation_features(model: nn.Module, batch: dict[str, Tensor], kind: str, pool: str = "mean") -> Tensor:
    """RN feature ``kind`` ("2s" | "avf") pooled over pairs by ``pool`` ("mean" | "max": per-pair L2-normalised,
    as RelationNetworks-CLEVR's ``extract.py``; "sum": vrkit's raw pooled vector) -> [B, D]."""
    from vrkit.models.relation_net import RelationNet

    if not isinstance(model, RelationNet):
        raise ValueError(f"'{kind}' features need a relation_net checkpoint, got {type(model).__name__}")
    return model.extract_features(batch, kind, pool=pool).float()


def _output_unit(model: nn.Module) -> tuple[nn.Module, int]:
    """The module whose input ends with the summary/memory, and the summary width."""
    from vrkit.models.mac import MAC
    from vrkit.models.samnet import SAMNet

    if isinstance(model, SAMNet):
        return model.output_unit, model.cfg.dim
    if isinstance(model, MAC):
        return model.out_hidden, model.config.d
    raise ValueError(f"'summary' features need a samnet or mac checkpoint, got {type(model).__name__}")


def summary_features(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Final SAMNet summary / MAC memory after the last frame -> [B, d]."""
    unit, d = _output_unit(model)
    seen: list[Tensor] = []
    handle = unit.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach()))
    try:
        model(batch)
    finally:
        handle.remove()
    x = seen[-1]  # SAMNet: (B, T, Q + d) -> last frame; MAC: (B, 2d) of the last frame
    if x.dim() == 3:
        x = x[:, -1]
    return x[:, -d:].float()


def perception_items(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """The model's perception output before any reasoning -> items [B, N, C], mask [B, N] bool (T = 1).

    relation_net: CNN cells (pixels; no coordinate tags) or the raw object vectors (state);
    samnet: CogCNN cells (before the shared projection) or the state encoder's objects;
    mac: the knowledge base (CNN stem + two conv layers, or the object embedding).
    """
    from vrkit.models import frames_float, run_frames, state_inputs
    from vrkit.models.mac import MAC
    from vrkit.models.relation_net import RelationNet
    from vrkit.models.samnet import SAMNet

    pixels = "frames" in batch
    if isinstance(model, RelationNet):
        if pixels:
            maps = run_frames(model.cnn, frames_float(batch["frames"]))  # (B, C, h, w)
            items = maps.flatten(2).transpose(1, 2)
            return items, torch.ones(items.shape[:2], dtype=torch.bool)
        objects, mask = state_inputs(batch)
        return objects[:, 0], mask[:, 0]
    if isinstance(model, SAMNet):
        if pixels:
            items = model.image_encoder.cnn(batch["frames"].flatten(0, 1).float())  # (B, h·w, C)
            return items, torch.ones(items.shape[:2], dtype=torch.bool)
        feats, mask = model.state_encoder(batch["objects"], batch.get("object_mask"))
        return feats[:, 0], mask[:, 0]
    if isinstance(model, MAC):
        kb, mask, _ = model.knowledge_base(batch)
        return kb[:, 0], mask[:, 0]
    raise ValueError(f"'cnn' features support relation_net, samnet and mac, got {type(model).__name__}")


def cnn_features(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Mean and max of the perception items over the valid items -> [B, 2C]."""
    items, mask = perception_items(model, batch)
    items = items.float()
    m = mask.unsqueeze(-1)
    mean = (items * m).sum(1) / m.sum(1).clamp(min=1)
    mx = items.masked_fill(~m, float("-inf")).amax(1)
    mx = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))  # a scene without objects
    return torch.cat([mean, mx], dim=-1)
