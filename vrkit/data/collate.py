"""Collate COG items (:mod:`vrkit.data.cog`) into the batch contract (docs/architecture.md, 'The batch').

Batch (B examples, T frames, L ≤ 25 tokens, N objects):

* ``question`` int64 (B, L), 0 = pad, L = longest question of the batch; ``question_len`` int64 (B,);
* ``frames`` (B, T, 3, H, W) (dtype of the items), or ``objects`` float32 (B, T, N, 55) + ``object_mask`` bool
  (B, T, N), N = the largest per-item N of the batch (padding zero / False);
* ``answer`` int64 (B, T) (-100 = invalid or point), ``point`` float32 (B, T, 2), ``point_mask`` bool (B, T);
* ``family`` int64 (B,).

All items must have the same number of frames T (as in the original, a batch takes the first example's
``epochs``); a batch mixing canonical (4) and hard (8) examples raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

_PER_FRAME = ("answer", "point", "point_mask")


def _pad_stack(tensors: Sequence[torch.Tensor], dim: int, size: int) -> torch.Tensor:
    """Stack tensors after zero-padding each along ``dim`` to ``size``."""
    first = tensors[0]
    shape = list(first.shape)
    shape[dim] = size
    out = first.new_zeros([len(tensors), *shape])
    for i, t in enumerate(tensors):
        out[i].narrow(dim, 0, t.shape[dim]).copy_(t)
    return out


def collate_cog(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch a list of items; see the module docstring for the keys, shapes and dtypes."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    T = int(items[0]["answer"].shape[0])
    frames = [int(it["answer"].shape[0]) for it in items]
    if any(E != T for E in frames):
        raise ValueError(
            f"a batch must have one number of frames, got {sorted(set(frames))} (first example has {T}); "
            "do not mix COG variants (e.g. canonical and hard) in one batch"
        )
    batch: dict[str, torch.Tensor] = {}
    L = max(int(it["question"].shape[0]) for it in items)
    batch["question"] = _pad_stack([it["question"] for it in items], 0, L)
    batch["question_len"] = torch.stack([it["question_len"] for it in items])
    for key in _PER_FRAME:
        batch[key] = torch.stack([it[key] for it in items])
    batch["family"] = torch.stack([it["family"] for it in items])
    if "objects" in items[0]:
        N = max(int(it["objects"].shape[1]) for it in items)
        batch["objects"] = _pad_stack([it["objects"] for it in items], 1, N)
        batch["object_mask"] = _pad_stack([it["object_mask"] for it in items], 1, N)
    if "frames" in items[0]:
        batch["frames"] = torch.stack([it["frames"] for it in items])
    if "features" in items[0]:  # precomputed CNN maps (B, T, C, h, w) (vrkit.data.features_h5)
        batch["features"] = torch.stack([it["features"] for it in items])
    return batch
