"""Losses and accuracy of the COG evaluation convention (docs/world-cog.md, 'Targets and scoring'), world-agnostic.

* Loss = answer cross-entropy over frames whose answer is a class (``answer != -100``) + ``point_weight`` ×
  pointing cross-entropy (softmax over the grid vs the normalised Gaussian target) over ``point_mask`` frames;
  each term summed and divided by **all** B·T frame slots.
* A word frame is correct if the argmax matches; a point frame if the softmax-weighted grid position is within
  0.15 of the answer (a model without a pointing head gets point frames wrong). Invalid frames are masked.
* :class:`FamilyAccuracy` (a torchmetrics ``Metric``, summed over ranks) keeps correct/total frame counts per
  family; :func:`summarize` gives the overall accuracy as the mean over families with frames (the COG
  convention), the pooled per-frame accuracy, and per-family and per-group accuracies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric

from vrkit.data.targets import grid_readout, grid_target, point_correct


def frame_losses(out: Mapping[str, Any], batch: Mapping[str, Tensor], point_weight: float = 1.0) -> dict[str, Tensor]:
    """``{"loss", "answer_loss", "point_loss"}`` (scalars) of model outputs against a batch."""
    logits = out["logits"].float()  # (B, T, A)
    answer = batch["answer"]  # (B, T)
    slots = answer.numel()
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), answer.reshape(-1), ignore_index=-100,
                         reduction="sum")
    answer_loss = ce / slots
    point_loss = logits.new_zeros(())
    pl = out.get("point_logits")
    if pl is not None and point_weight:
        mask = batch["point_mask"].to(logits.dtype)  # (B, T)
        target = grid_target(batch["point"].float())  # (B, T, G)
        logp = F.log_softmax(pl.float(), dim=-1)
        point_loss = (-(target * logp).sum(-1) * mask).sum() / slots
    return {"loss": answer_loss + point_weight * point_loss, "answer_loss": answer_loss, "point_loss": point_loss}


def frame_correct(out: Mapping[str, Any], batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(correct, valid): bool (B, T) each. Valid = word answer or point answer (not invalid)."""
    answer = batch["answer"]
    word = answer != -100
    correct = (out["logits"].argmax(-1) == answer) & word
    point = batch["point_mask"].bool() & ~word
    pl = out.get("point_logits")
    if pl is not None:
        correct = correct | (point_correct(grid_readout(pl.float()), batch["point"].float()) & point)
    return correct, word | point


class FamilyAccuracy(Metric):
    """Correct and total valid frames per family (``num_families`` counters each, summed across ranks)."""

    full_state_update = False

    def __init__(self, num_families: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_families = num_families
        self.add_state("correct", default=torch.zeros(num_families, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(num_families, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, correct: Tensor, valid: Tensor, family: Tensor) -> None:
        """``correct``/``valid`` bool (B, T), ``family`` long (B,)."""
        onehot = torch.nn.functional.one_hot(family, self.num_families).to(torch.float64)  # (B, F)
        # a matmul rather than index_add_: deterministic on GPUs too (trainer.deterministic)
        self.correct += onehot.T @ (correct & valid).sum(1).to(torch.float64)
        self.total += onehot.T @ valid.sum(1).to(torch.float64)

    def compute(self) -> Tensor:
        """float64 (2, F): row 0 correct counts, row 1 totals."""
        return torch.stack([self.correct, self.total])


def summarize(counts: Tensor, family_names: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None,
              ) -> dict[str, Any]:
    """Accuracies from :meth:`FamilyAccuracy.compute` counts: overall (mean over families with frames),
    ``frames`` (pooled), ``families`` {name: {"acc", "frames"}}, ``groups`` {name: {"acc", "frames"}}."""
    correct, total = counts[0].tolist(), counts[1].tolist()
    fams: dict[str, dict[str, float]] = {}
    for i, name in enumerate(family_names):
        if total[i] > 0:
            fams[name] = {"acc": correct[i] / total[i], "frames": int(total[i])}
    res: dict[str, Any] = {
        "acc": sum(f["acc"] for f in fams.values()) / len(fams) if fams else float("nan"),
        "frames_acc": sum(correct) / sum(total) if sum(total) > 0 else float("nan"),
        "frames": int(sum(total)),
        "families": fams,
        "groups": {},
    }
    for g, members in (groups or {}).items():
        accs = [fams[m]["acc"] for m in members if m in fams]
        if accs:
            res["groups"][g] = {"acc": sum(accs) / len(accs), "frames": int(sum(fams[m]["frames"] for m in members
                                                                                if m in fams))}
    return res
