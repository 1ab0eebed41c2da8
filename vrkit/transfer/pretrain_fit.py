"""Fine-tuning and linear probes for ``vrkit transfer pretrain``: the networks of each initialisation, a plain
deterministic training loop with the same budget for all, and snitch-localisation predictions.

Every vision initialisation fine-tunes the same :class:`~vrkit.models.ivcl_heads.ClipClassifier`; they differ
only in where the weights start and what is frozen (``INITS``). The state path
(:class:`~vrkit.models.ivcl_heads.StateClassifier`) reads the visible objects instead of pixels. A network whose
encoder is frozen (the linear probes, the random frozen encoder) is fitted as :class:`OnFeatures` on the encoder's
features, computed once per video by :func:`on_features`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrkit.data.cater import frames_float

N_CELLS = 36

# init name -> (label in tables, pretraining stage it starts from or None, encoder frozen)
INITS: dict[str, tuple[str, str | None, bool]] = {
    "ivcl": ("IV-CL", "ivcl", False),
    "image_only": ("IV-CL image-only", "image_only", False),
    "attributes": ("supervised attributes", "attributes", False),
    "sets": ("supervised object sets", "sets", False),
    "random_frozen": ("random frozen encoder", None, True),
    "scratch": ("scratch", None, False),
    "state": ("state path (upper bound)", None, False),
}
# encoders probed linearly: name -> (label, pretraining stage or None = random)
PROBES: dict[str, tuple[str, str | None]] = {
    "ivcl": ("IV-CL", "ivcl"), "image_only": ("IV-CL image-only", "image_only"),
    "attributes": ("supervised attributes", "attributes"), "sets": ("supervised object sets", "sets"),
    "random": ("random encoder", None),
}


def seeded(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:7], "little")


def build_classifier(init: str, encoder: nn.Module | None, model_cfg: Any, sizes: dict[str, int],
                     seed: int) -> nn.Module:
    """The network of ``init`` (``INITS``): ``encoder`` is the pretrained IVCL (None: a random one of
    ``model_cfg``); weights not loaded are drawn from ``seed``."""
    from vrkit.models.ivcl import IVCL
    from vrkit.models.ivcl_heads import ClipClassifier, StateClassifier

    torch.manual_seed(seeded("init", init, seed))
    c = model_cfg
    if init == "state":
        return StateClassifier(sizes["features"], N_CELLS, c.dim, c.temporal_depth, c.heads)
    backbone = encoder if encoder is not None else IVCL(model_cfg)
    net = ClipClassifier(backbone, N_CELLS, c.temporal_depth)
    if INITS[init][2]:
        net.encoder.requires_grad_(False)
    return net


def inputs_of(net: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
    """What ``net`` reads from a batch: the visible objects (state path), a frozen encoder's features (a set of
    :func:`with_features`, read by :class:`OnFeatures`) or the frames in [0, 1]."""
    from vrkit.models.ivcl_heads import StateClassifier

    if isinstance(net, StateClassifier):
        return batch["objects"], batch["object_mask"]
    if isinstance(net, OnFeatures):
        return (batch["features"],)
    return (frames_float(batch["frames"]),)


def frozen(net: nn.Module) -> bool:
    """Whether ``net`` (a ClipClassifier or LinearProbe) has an encoder none of whose weights train."""
    from vrkit.models.ivcl_heads import frozen as weights_frozen

    enc = getattr(net, "encoder", None)
    return isinstance(enc, nn.Module) and hasattr(net, "from_features") and weights_frozen(enc)


class OnFeatures(nn.Module):
    """The trainable part of a ``net`` whose encoder is frozen: ``net.from_features`` on the encoder's features
    (``net.features``), which :func:`with_features` computes once per video instead of once per step. The same
    parameters and, up to floating-point noise, the same logits as ``net`` on the frames."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: Tensor) -> Tensor:
        return self.net.from_features(features)


def weights_digest(module: nn.Module) -> str:
    """sha256 hex of ``module``'s state (names, dtypes, shapes and bytes of every tensor) and its config."""
    h = hashlib.sha256(repr(getattr(module, "config", None)).encode())
    for name, v in module.state_dict().items():
        h.update(f"{name} {v.dtype} {tuple(v.shape)}".encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def on_features(net: nn.Module, sets: list[tuple[dict[str, Tensor], str]], batch_size: int,
                cache_dir: Path | None = None) -> tuple[nn.Module, list[dict[str, Tensor]], dict[str, Any]]:
    """For ``net`` with a :func:`frozen` encoder: (:class:`OnFeatures` of it, each of ``sets`` (data, id) with its
    frames replaced by the encoder's features (:func:`with_features`), what to record: ``feature_seconds`` and
    whether the features were computed or loaded). Any other ``net``: itself, the data unchanged, {}."""
    if not frozen(net):
        return net, [data for data, _ in sets], {}
    start = time.monotonic()
    done = [with_features(net, data, batch_size, cache_dir, data_id) for data, data_id in sets]
    return OnFeatures(net), [data for data, _ in done], {
        "feature_seconds": round(time.monotonic() - start, 2),
        "features": "loaded" if all(hit for _, hit in done) else "computed"}


def with_features(net: nn.Module, data: dict[str, Tensor], batch_size: int, cache_dir: Path | None = None,
                  data_id: str = "") -> tuple[dict[str, Tensor], bool]:
    """``data`` with its frames replaced by ``net``'s frozen features (``net.features`` in eval mode, in batches
    of ``batch_size``), and whether they were loaded rather than computed. With ``cache_dir``, they are cached
    there (:func:`vrkit.data.set_cache.cached_set`) keyed by ``data_id`` (the set's cache file name) and the
    encoder's :func:`weights_digest`, so a resumed stage loads them."""
    from vrkit.data.set_cache import cached_set, set_key

    was_training, computed = net.training, []

    @torch.no_grad()
    def make() -> dict[str, Tensor]:
        net.eval()
        order = torch.arange(_count(data))
        feats = [net.features(frames_float(b["frames"])) for b in _batches({"frames": data["frames"]}, batch_size,
                                                                              order)]
        computed.append(True)
        return {"features": torch.cat(feats)}

    digest = weights_digest(net.encoder)
    key = set_key(n=_count(data), data=data_id, encoder=digest, reads=type(net).__name__)
    feats = cached_set(None if cache_dir is None or not data_id else cache_dir,
                       f"features-{type(net).__name__}-{digest[:12]}", key, make)["features"]
    net.train(was_training)
    return {**{k: v for k, v in data.items() if k != "frames"}, "features": feats}, not computed


def _count(data: dict[str, Tensor]) -> int:
    return len(next(iter(data.values())))


def _batches(data: dict[str, Tensor], size: int, order: Tensor) -> list[dict[str, Tensor]]:
    return [{k: v[order[i:i + size]] for k, v in data.items()} for i in range(0, len(order), size)]


def snitch_loss(net: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Cross-entropy of ``net``'s logits against the batch's snitch cells (the default of :func:`fit`)."""
    return F.cross_entropy(net(*inputs_of(net, batch)), batch["snitch_cell"])


def fit(net: nn.Module, data: dict[str, Tensor], epochs: int, batch_size: int, lr: float, seed: int,
        minutes: float | None = None, log: Callable[[str], None] | None = None,
        loss_fn: Callable[[nn.Module, dict[str, Tensor]], Tensor] = snitch_loss) -> dict[str, Any]:
    """Train ``net``'s trainable parameters on ``data`` (``loss_fn`` of a batch; default: snitch cells) with
    AdamW for ``epochs`` (stopping early at ``minutes``); the order of examples and dropout are drawn from
    ``seed``. Returns steps and losses."""
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    g = torch.Generator().manual_seed(seeded("order", seed))
    n, steps, losses, start = _count(data), 0, [], time.monotonic()
    net.train()
    for epoch in range(epochs):
        total = 0.0
        for batch in _batches(data, batch_size, torch.randperm(n, generator=g)):
            torch.manual_seed(seeded("step", seed, steps))
            loss = loss_fn(net, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            steps += 1
            total += loss.item() * _count(batch)
            if minutes is not None and time.monotonic() - start > 60 * minutes:
                break
        losses.append(total / n)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
        if minutes is not None and time.monotonic() - start > 60 * minutes:
            break
    return {"steps": steps, "epoch_losses": losses, "train_seconds": round(time.monotonic() - start, 2),
            "trainable_parameters": sum(p.numel() for p in params)}


@torch.no_grad()
def predict(net: nn.Module, data: dict[str, Tensor], batch_size: int = 32,
            forward: Callable[[nn.Module, dict[str, Tensor]], Tensor] | None = None) -> Tensor:
    """Logits of every example of ``data``, in order: [N, 36] by default, ``forward(net, batch)`` otherwise."""
    net.eval()
    run = forward or (lambda m, b: m(*inputs_of(m, b)))
    return torch.cat([run(net, b) for b in _batches(data, batch_size, torch.arange(_count(data)))])


def metrics(logits: Tensor, cells: Tensor, keep: Tensor | None = None) -> dict[str, Any]:
    """top1, top5, grid L1 (vrkit.worlds.cater.localisation_metrics) and the example count, on ``keep``."""
    from vrkit.worlds.cater import localisation_metrics

    if keep is not None:
        logits, cells = logits[keep], cells[keep]
    return {**localisation_metrics(logits.numpy(), cells.numpy()), "examples": int(len(cells))}


def save_logits(path: Path, logits: Tensor) -> None:
    from vrkit.utils.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(logits, tmp)
