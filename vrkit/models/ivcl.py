"""IV-CL: self-supervised video pretraining by compressing frames into slot tokens and reconstructing masked
patches from temporal context (Sun, Luo, Zhou, Arnab & Schmid, "Does Visual Pretraining Help End-to-End
Reasoning?", NeurIPS 2023; docs/ivcl.md).

Per clip of T frames:

1. **Image encoder** (a ViT, per frame): the frame's visible patches (a random ``mask_ratio`` of them are hidden
   during pretraining) plus ``slots`` learned slot tokens go through ``depth`` transformer blocks; the slot
   tokens' outputs are the frame's compressed summary, [B, T, k, d].
2. **Temporal transformer** over the T·k slot tokens of the clip (with a time code), so each frame's slots carry
   context from the other frames. ``temporal=False`` is the image-only ablation: no mixing between frames.
3. **Decoder** (pretraining only; dropped for transfer): per frame, the frame's context slots, its visible
   patch tokens and a shared mask token at every hidden position go through ``decoder_depth`` blocks, and a
   linear layer predicts each patch's pixels. The loss is the mean squared error over hidden patches only
   (MAE's loss; each target patch normalised to zero mean and unit variance when ``norm_pix``).

``features(frames)`` → context slots [B, T, k, d] (no masking) is what transfer heads read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from vrkit.models.layers.vit import Stack, patchify, sincos_1d, sincos_2d


@dataclass
class IVCLConfig:
    image_size: int = 64  # H = W (a multiple of patch)
    patch: int = 8  # patch side in pixels
    dim: int = 128  # encoder (and temporal transformer) width
    depth: int = 3  # encoder blocks
    heads: int = 4
    slots: int = 4  # slot tokens per frame (k)
    temporal: bool = True  # False: the image-only ablation (no temporal transformer)
    temporal_depth: int = 2
    decoder_dim: int = 96
    decoder_depth: int = 2
    decoder_heads: int = 4
    mask_ratio: float = 0.75  # share of each frame's patches hidden during pretraining
    mlp_ratio: float = 4.0
    norm_pix: bool = True  # reconstruct per-patch normalised pixels (MAE)

    def check(self) -> IVCLConfig:
        """ValueError naming the field for an inconsistent config; returns self."""
        if self.image_size % self.patch:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch {self.patch}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        for name in ("image_size", "patch", "dim", "depth", "heads", "slots", "temporal_depth", "decoder_dim",
                     "decoder_depth", "decoder_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for width, heads in (("dim", "heads"), ("decoder_dim", "decoder_heads")):
            if getattr(self, width) % getattr(self, heads) or getattr(self, width) % 4:
                raise ValueError(f"{width} must be a multiple of {heads} and of 4")
        return self


# Sizes. cpu: our choice for 2 cores (48-64 px, d = 96-128, 3 encoder blocks); paper: ViT-B widths (d 768, 12
# blocks, 12 heads, 16-px patches) with MAE's decoder (512 wide, 8 blocks); the remaining numbers are ours.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"image_size": 32, "patch": 8, "dim": 32, "depth": 1, "heads": 2, "slots": 2, "temporal_depth": 1,
             "decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2},
    "cpu": {"image_size": 64, "patch": 8, "dim": 128, "depth": 3, "heads": 4, "slots": 4, "temporal_depth": 2,
            "decoder_dim": 96, "decoder_depth": 2, "decoder_heads": 4},
    "paper": {"image_size": 224, "patch": 16, "dim": 768, "depth": 12, "heads": 12, "slots": 8, "temporal_depth": 4,
              "decoder_dim": 512, "decoder_depth": 8, "decoder_heads": 16},
}


def ivcl_config(preset: str = "cpu", **overrides: Any) -> IVCLConfig:
    """A checked :class:`IVCLConfig` from a preset (``tiny``, ``cpu``, ``paper``) and field overrides."""
    if preset not in PRESETS:
        raise KeyError(f"unknown IV-CL preset {preset!r} (known: {', '.join(PRESETS)})")
    known = {f.name for f in fields(IVCLConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown IV-CL field(s) {', '.join(unknown)}")
    return IVCLConfig(**{**PRESETS[preset], **overrides}).check()


def random_keep(batch: int, frames: int, n: int, ratio: float, generator: torch.Generator | None = None,
                device: torch.device | None = None) -> Tensor:
    """Indices of the visible patches of every frame: [B, T, n - round(ratio n)], sorted, drawn independently
    per frame (uniform noise, argsort: MAE's shuffle)."""
    n_keep = n - int(round(ratio * n))
    noise = torch.rand(batch, frames, n, generator=generator, device=device)
    return noise.argsort(dim=-1)[..., :n_keep].sort(dim=-1).values


def masked_mse(pred: Tensor, target: Tensor, hidden: Tensor) -> Tensor:
    """Mean over hidden patches of the per-patch mean squared error: pred, target [B, T, N, P]; hidden [B, T, N]
    bool. Visible patches do not count."""
    per_patch = (pred - target).pow(2).mean(dim=-1)  # (B, T, N)
    w = hidden.to(per_patch.dtype)
    return (per_patch * w).sum() / w.sum().clamp_min(1.0)


class TemporalMixer(nn.Module):
    """A transformer over every token of a clip: tokens [B, T, S, d] (+ keep [B, T, S]) → [B, T, S, d], with a
    fixed time code added to each frame's tokens."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.dim = dim
        self.stack = Stack(dim, depth, heads, mlp_ratio)

    def forward(self, tokens: Tensor, keep: Tensor | None = None) -> Tensor:
        B, T, S, d = tokens.shape
        x = tokens + sincos_1d(T, d).to(tokens)[None, :, None, :]  # time code per frame
        flat_keep = None if keep is None else keep.reshape(B, T * S)
        return self.stack(x.reshape(B, T * S, d), flat_keep).reshape(B, T, S, d)


class IVCL(nn.Module):
    """The IV-CL model (module docstring). ``frames`` are float [B, T, 3, H, W] in [0, 1]."""

    def __init__(self, config: IVCLConfig) -> None:
        super().__init__()
        c = self.config = config.check()
        self.n_patches = (c.image_size // c.patch) ** 2
        patch_dim = 3 * c.patch * c.patch
        side = c.image_size // c.patch
        # encoder
        self.patch_embed = nn.Linear(patch_dim, c.dim)
        self.register_buffer("pos", sincos_2d(side, c.dim), persistent=False)  # (N, d)
        self.slot_tokens = nn.Parameter(0.02 * torch.randn(c.slots, c.dim))  # (k, d)
        self.encoder = Stack(c.dim, c.depth, c.heads, c.mlp_ratio)
        self.temporal = TemporalMixer(c.dim, c.temporal_depth, c.heads, c.mlp_ratio) if c.temporal else None
        # decoder (pretraining only)
        self.dec_embed = nn.Linear(c.dim, c.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(c.decoder_dim))
        self.register_buffer("dec_pos", sincos_2d(side, c.decoder_dim), persistent=False)  # (N, dd)
        self.decoder = Stack(c.decoder_dim, c.decoder_depth, c.decoder_heads, c.mlp_ratio)
        self.to_pixels = nn.Linear(c.decoder_dim, patch_dim)

    # -- encoder ------------------------------------------------------------------------------------------------
    def encode(self, frames: Tensor, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Per-frame encoding: slots [B, T, k, d] and the visible patch tokens [B, T, Nk, d] (all patches, in
        order, when ``keep`` is None). Frames never see each other here."""
        B, T = frames.shape[:2]
        c = self.config
        x = self.patch_embed(patchify(frames, c.patch)) + self.pos  # (B, T, N, d)
        if keep is not None:
            x = x.gather(2, keep[..., None].expand(-1, -1, -1, c.dim))  # (B, T, Nk, d)
        Nk = x.shape[2]
        slots = self.slot_tokens.expand(B * T, -1, -1)  # (BT, k, d)
        y = self.encoder(torch.cat([slots, x.reshape(B * T, Nk, c.dim)], dim=1))  # (BT, k + Nk, d)
        y = y.reshape(B, T, c.slots + Nk, c.dim)
        return y[:, :, :c.slots], y[:, :, c.slots:]

    def context(self, slots: Tensor) -> Tensor:
        """Slots [B, T, k, d] after the temporal transformer (unchanged in the image-only ablation)."""
        return slots if self.temporal is None else self.temporal(slots)

    def features(self, frames: Tensor) -> Tensor:
        """What transfer heads read: context slots of the unmasked clip, [B, T, k, d]."""
        return self.context(self.encode(frames)[0])

    # -- pretraining ------------------------------------------------------------------------------------------
    def forward(self, frames: Tensor, mask_ratio: float | None = None,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Masked reconstruction: {"loss", "pred" [B, T, N, P] (normalised patches when norm_pix),
        "target" [B, T, N, P], "hidden" [B, T, N] bool (True = masked)}."""
        c = self.config
        ratio = c.mask_ratio if mask_ratio is None else mask_ratio
        B, T = frames.shape[:2]
        N = self.n_patches
        keep = random_keep(B, T, N, ratio, generator, frames.device)  # (B, T, Nk)
        slots, visible = self.encode(frames, keep)
        ctx = self.context(slots)  # (B, T, k, d)
        # decoder input: every patch position, the visible ones from the encoder, the others the mask token
        vis = self.dec_embed(visible)  # (B, T, Nk, dd)
        tokens = self.mask_token.expand(B, T, N, c.decoder_dim).clone()
        tokens = tokens.scatter(2, keep[..., None].expand(-1, -1, -1, c.decoder_dim), vis)  # (B, T, N, dd)
        tokens = tokens + self.dec_pos
        seq = torch.cat([self.dec_embed(ctx), tokens], dim=2).reshape(B * T, c.slots + N, c.decoder_dim)
        out = self.decoder(seq)[:, c.slots:]  # (BT, N, dd)
        pred = self.to_pixels(out).reshape(B, T, N, -1)  # (B, T, N, P)
        target = self.target(frames)
        hidden = torch.ones(B, T, N, dtype=torch.bool, device=frames.device)
        hidden.scatter_(2, keep, False)
        return {"loss": masked_mse(pred, target, hidden), "pred": pred, "target": target, "hidden": hidden}

    def target(self, frames: Tensor) -> Tensor:
        """Reconstruction targets [B, T, N, P]: the patches, normalised per patch when ``norm_pix``."""
        t = patchify(frames, self.config.patch)
        if self.config.norm_pix:
            mean, var = t.mean(dim=-1, keepdim=True), t.var(dim=-1, keepdim=True)
            t = (t - mean) / (var + 1e-6).sqrt()
        return t

    def pixels(self, frames: Tensor, pred: Tensor) -> Tensor:
        """Predicted patches [B, T, N, P] back in pixel units (undoing the per-patch normalisation with the true
        patch statistics, as MAE's visualisation does), clamped to [0, 1]."""
        if self.config.norm_pix:
            t = patchify(frames, self.config.patch)
            pred = pred * (t.var(dim=-1, keepdim=True) + 1e-6).sqrt() + t.mean(dim=-1, keepdim=True)
        return pred.clamp(0.0, 1.0)

    def drop_decoder(self) -> IVCL:
        """Delete the decoder (transfer keeps the encoder and the temporal transformer); returns self."""
        for name in ("dec_embed", "decoder", "to_pixels"):
            if hasattr(self, name):
                delattr(self, name)
        if hasattr(self, "mask_token"):
            del self.mask_token
        return self

    def encoder_state(self) -> dict[str, Tensor]:
        """The weights transfer keeps (encoder and temporal transformer; the decoder is dropped)."""
        return {k: v for k, v in self.state_dict().items()
                if not k.startswith(("dec_", "mask_token", "decoder.", "to_pixels."))}

    def describe(self) -> dict[str, Any]:
        """The config plus parameter and patch counts (run directories record it)."""
        n_keep = self.n_patches - int(round(self.config.mask_ratio * self.n_patches))
        return {**asdict(self.config), "parameters": sum(p.numel() for p in self.parameters()),
                "patches_per_frame": self.n_patches, "visible_per_frame": n_keep}
