"""TTNet, the meta-learner of zero-shot task transfer (Pal & Balasubramanian, CVPR 2019), over answer heads.

F((δ_1, γ_1j), …, (δ_m, γ_mj); W) = δ_j regresses a task's head (δ = θ − θ0, :mod:`zeroshot_heads`) from the
known tasks' heads and their correlations γ with it (column j of Γ). Our parameterisation, for heads of ~10⁴
values learned from a few dozen tasks:

* every source i gets a weight a_ij = softmax_i(β·γ_ij + g(γ_ij) + b_i): a learned function g of γ shared by all
  sources (initially zero, so TTNet starts as a softmax Γ-weighted average) and a per-source bias b_i (the
  paper's per-source networks W_i, reduced to how much to trust each source);
* the weighted sum s = Σ a_ij δ_i is scaled and corrected through a rank-r bottleneck (the paper's W_common):
  δ̂_j = c·s + U·h(D·s), U initially zero.

Training (the paper's two modes; a known task plays the target, one of its p heads, each trained on another
data subset, is the regression target):

* **self** mode — the target's own family is among the sources (another of its heads, γ = +2): the network
  learns to pass a strongly related source through;
* **transfer** mode — the target's family is masked out of the sources, as for a zero-shot task at inference.

Loss = ‖δ̂ − δ*‖² (mean over parameters, δ in units of the known heads' std) + λ · cross-entropy of the
generated head on frames of the target task (data–model consistency), computed with ``functional_call`` so the
gradient flows through the generated parameters into the meta-learner.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.transfer.zeroshot_heads import Features, logits


class TTNet(nn.Module):
    """F over ``n_sources`` known tasks with parameter vectors of ``dim`` values (module docstring)."""

    def __init__(self, n_sources: int, dim: int, rank: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(2.0))
        self.gamma_net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.gamma_net[2].weight)
        nn.init.zeros_(self.gamma_net[2].bias)
        self.source_bias = nn.Parameter(torch.zeros(n_sources))
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.down = nn.Linear(dim, rank, bias=False)
        self.mix = nn.Sequential(nn.Linear(rank, hidden), nn.Tanh(), nn.Linear(hidden, rank))
        self.up = nn.Linear(rank, dim, bias=False)
        nn.init.zeros_(self.up.weight)

    def weights(self, gammas: Tensor, mask: Tensor) -> Tensor:
        """Source weights (B, m) from γ (B, m); masked sources get 0."""
        g = gammas.unsqueeze(-1)
        logit = self.beta * gammas + self.gamma_net(g).squeeze(-1) + self.source_bias
        return torch.softmax(logit.masked_fill(~mask, float("-inf")), dim=-1)

    def forward(self, deltas: Tensor, gammas: Tensor, mask: Tensor) -> Tensor:
        """δ̂ (B, D) from source deltas (B, m, D), γ (B, m) and the sources present (B, m) bool."""
        a = self.weights(gammas, mask)
        s = torch.einsum("bm,bmd->bd", a, deltas)
        return self.scale * s + self.up(self.mix(self.down(s)))


def gamma_average(deltas: Tensor, gammas: Tensor) -> Tensor:
    """TTNet without learning: Σ w_i δ_i with w ∝ max(γ_i, 0) (uniform if no source is positively related)."""
    w = gammas.clamp(min=0)
    w = w / w.sum() if float(w.sum()) > 0 else torch.full_like(w, 1.0 / len(w))
    return torch.einsum("m,md->d", w, deltas)


def consistency_loss(head: nn.Module, theta0: Tensor, sigma: float, pred: Tensor,
                     frames: Sequence[Features]) -> Tensor:
    """Mean cross-entropy of the generated heads θ0 + σ·pred[b] on their targets' frames (gradient flows
    through ``pred``)."""
    losses = [F.cross_entropy(logits(head, theta0 + sigma * pred[b], f.x), f.y) for b, f in enumerate(frames)]
    return torch.stack(losses).mean()


def train_ttnet(head: nn.Module, theta0: Tensor, deltas: Tensor, gamma: Tensor, data: Sequence[Features], *,
                steps: int, lr: float = 3e-3, lam: float = 0.1, self_share: float = 0.3, batch: int = 8,
                frames: int = 128, rank: int = 16, seed: int = 0) -> tuple[TTNet, float, list[dict]]:
    """Train TTNet on the known tasks: ``deltas`` (m, p, D) raw head deltas (p heads per task), ``gamma`` (m, m)
    among them, ``data`` the frames of each known task (consistency term). The first ``self_share`` of the
    steps run in self mode, the rest in transfer mode. Returns (net, σ, loss log every ~10 % of the steps)."""
    m, p, dim = deltas.shape
    sigma = float(deltas.std()) or 1.0
    d = deltas / sigma
    gamma = gamma.float()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = TTNet(m, dim, rank=rank)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    log: list[dict] = []
    for step in range(steps):
        mode = "self" if step < self_share * steps else "transfer"
        t = torch.randint(m, (batch,), generator=gen)
        vt = torch.randint(p, (batch,), generator=gen)
        vs = torch.randint(p, (batch, m), generator=gen)
        rows = torch.arange(batch)
        mask = torch.ones(batch, m, dtype=torch.bool)
        if mode == "self" and p > 1:  # the target's own family as a source, through another of its heads
            vs[rows, t] = (vt + 1 + torch.randint(p - 1, (batch,), generator=gen)) % p
        else:
            mask[rows, t] = False
        src = d[torch.arange(m).unsqueeze(0), vs]  # (B, m, D)
        pred = net(src, gamma[:, t].T, mask)
        reg = F.mse_loss(pred, d[t, vt])
        total = reg
        cons = torch.zeros(())
        if lam > 0:
            picks = []
            for b in t.tolist():
                n = len(data[b].y)
                idx = torch.randint(n, (min(frames, n),), generator=gen)
                picks.append(Features(data[b].x[idx], data[b].y[idx], data[b].ex[idx]))
            cons = consistency_loss(head, theta0, sigma, pred, picks)
            total = reg + lam * cons
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            log.append({"step": step, "mode": mode, "regression": round(float(reg.detach()), 5),
                        "consistency": round(float(cons.detach()), 5)})
    return net, sigma, log


@torch.no_grad()
def generate(net: TTNet, sigma: float, theta0: Tensor, deltas: Tensor, gammas: Tensor) -> Tensor:
    """The head of a new task from the known heads ``deltas`` (m, p, D) and its γ column (m,): TTNet in
    transfer mode, averaged over the p versions of the sources."""
    m, p, _ = deltas.shape
    src = (deltas / sigma).permute(1, 0, 2)  # (p, m, D)
    pred = net(src, gammas.float().expand(p, m), torch.ones(p, m, dtype=torch.bool))
    return theta0 + sigma * pred.mean(0)
