"""Task models of zero-shot task transfer: small answer heads on a frozen backbone's pre-answer features.

* :func:`extract` runs a trained model over a source and keeps, for every frame with a class answer, the input
  of its answer unit (``model.output_unit``; SAMNet: [question vector, final summary]), the answer class and
  the example it came from. Every later step (heads, Γ affinity, the meta-learner, k-shot fine-tuning) works on
  these cached features, so it costs seconds on a CPU.
* A head is ``Linear(F, H) → ELU → Linear(H, A)``. All heads of one run start from one random initialisation
  θ0, so their parameters live in one space and can be averaged and regressed (a task is its δ = θ − θ0).
* Heads are called through ``torch.func.functional_call`` on a flat parameter vector, so a generated vector
  carries gradient (the meta-learner's data–model consistency term).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call


@dataclass
class Features:
    """Cached frames of one family: features ``x`` (M, F), answer classes ``y`` (M,), example ids ``ex`` (M,)."""

    x: Tensor
    y: Tensor
    ex: Tensor

    def take(self, examples: int) -> Features:
        """The frames of the first ``examples`` examples (k-shot sets)."""
        keep = self.ex < examples
        return Features(self.x[keep], self.y[keep], self.ex[keep])

    def split(self, parts: int) -> list[Features]:
        """``parts`` disjoint subsets by example id (contiguous blocks of examples)."""
        n = int(self.ex.max()) + 1 if len(self.ex) else 0
        size = max(1, n // parts)
        out = []
        for p in range(parts):
            keep = (self.ex >= p * size) & (self.ex < (p + 1) * size)
            out.append(Features(self.x[keep], self.y[keep], self.ex[keep] - p * size))
        return out

    def state(self) -> dict[str, Tensor]:
        return {"x": self.x, "y": self.y, "ex": self.ex}


@torch.no_grad()
def extract(task: Any, source: Any, batch_size: int = 64) -> Features:
    """Pre-answer features of ``task`` (a :class:`vrkit.engine.module.ReasoningTask`) over ``source`` (a
    ``SourceConfig``): the input of ``task.model.output_unit`` at every frame whose answer is a class."""
    from vrkit.engine.evaluate import eval_dataset

    unit = getattr(task.model, "output_unit", None)
    if unit is None:
        raise ValueError(f"model {type(task.model).__name__} has no output_unit to read features from")
    ds, dm = eval_dataset(task, source)
    captured: list[Tensor] = []
    hook = unit.register_forward_pre_hook(lambda mod, args: captured.append(args[0].detach()))
    xs, ys, exs = [], [], []
    offset = 0
    task.eval()
    try:
        for batch in dm.eval_loader(ds, batch_size):
            captured.clear()
            task(batch)
            feats, answer = captured[-1].float(), batch["answer"]  # (B, T, F), (B, T)
            keep = answer != -100
            ids = torch.arange(answer.shape[0]).unsqueeze(1).expand_as(answer) + offset
            xs.append(feats[keep])
            ys.append(answer[keep])
            exs.append(ids[keep])
            offset += answer.shape[0]
    finally:
        hook.remove()
    return Features(torch.cat(xs), torch.cat(ys), torch.cat(exs))


def head_module(in_dim: int, hidden: int, classes: int, seed: int) -> nn.Module:
    """The head architecture with the run's shared initialisation θ0 (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    head = nn.Sequential(nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, classes))
    with torch.no_grad():
        for p in head.parameters():
            bound = 1.0 / (p.shape[-1] ** 0.5) if p.dim() > 1 else 0.0
            p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
    return head


def flat(head: nn.Module) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in head.parameters()])


def unflat(head: nn.Module, vec: Tensor) -> dict[str, Tensor]:
    """``vec`` cut into ``head``'s named parameters (views keep the autograd graph of ``vec``)."""
    out, i = {}, 0
    for name, p in head.named_parameters():
        out[name] = vec[i: i + p.numel()].view_as(p)
        i += p.numel()
    if i != vec.numel():
        raise ValueError(f"parameter vector has {vec.numel()} values, the head {i}")
    return out


def logits(head: nn.Module, vec: Tensor, x: Tensor) -> Tensor:
    return functional_call(head, unflat(head, vec), (x,))


def loss(head: nn.Module, vec: Tensor, feats: Features) -> Tensor:
    return F.cross_entropy(logits(head, vec, feats.x), feats.y)


def train_head(head: nn.Module, start: Tensor, feats: Features, steps: int, lr: float, batch: int,
               seed: int) -> Tensor:
    """Adam from ``start`` for ``steps`` minibatches of ``feats`` frames; returns the trained flat vector."""
    vec = start.detach().clone().requires_grad_(True)
    if steps <= 0 or len(feats.y) == 0:
        return vec.detach()
    opt = torch.optim.Adam([vec], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(feats.y)
    for _ in range(steps):
        idx = torch.randint(n, (min(batch, n),), generator=gen)
        opt.zero_grad()
        F.cross_entropy(logits(head, vec, feats.x[idx]), feats.y[idx]).backward()
        opt.step()
    return vec.detach()


@torch.no_grad()
def example_scores(head: nn.Module, vec: Tensor, feats: Features) -> tuple[float, list[float], int]:
    """(frame accuracy, per-example share of correct frames in example order, frames)."""
    correct = (logits(head, vec, feats.x).argmax(-1) == feats.y).float()
    n = int(feats.ex.max()) + 1 if len(feats.ex) else 0
    hits = torch.zeros(n).index_add_(0, feats.ex, correct)
    frames = torch.zeros(n).index_add_(0, feats.ex, torch.ones_like(correct))
    per = (hits / frames.clamp(min=1)).tolist()
    acc = float(correct.mean()) if len(correct) else 0.0
    return acc, [round(v, 4) for v in per], len(correct)


def win_rate(a: list[float], b: list[float]) -> tuple[float | None, int]:
    """Share of examples where ``a`` scores higher than ``b`` among those where they differ (the paper's win
    rate: how often a method beats another), and the number of such examples; None if they never differ."""
    wins = sum(x > y for x, y in zip(a, b, strict=True))
    losses = sum(x < y for x, y in zip(a, b, strict=True))
    return (wins / (wins + losses) if wins + losses else None), wins + losses
