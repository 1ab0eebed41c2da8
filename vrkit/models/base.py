"""The interface every reasoning model implements.

Batch contract (docs/architecture.md, 'The batch'): a dict of tensors
    question [B, L] long (0 = pad), question_len [B] long,
    frames [B, T, 3, H, W] float   (pixels path)   or
    objects [B, T, N, F] float + object_mask [B, T, N] bool   (state path),
    answer [B, T] long (-100 where not a class answer), point [B, T, 2] float, point_mask [B, T] bool,
    family [B] long.
A model returns a dict: ``logits [B, T, A]``, optionally ``point_logits [B, T, G]`` (G = grid², 49 for COG)
and, when ``forward(batch, trace=True)``, ``trace``: a dict of per-step tensors for visualisation.
CLEVR single images are sequences of length T = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from torch import Tensor, nn


@dataclass
class IOConfig:
    """Fields shared by every model config (what the data looks like)."""

    path: str = "pixels"  # "pixels" | "state"
    vocab_size: int = 79  # input tokens (COG: 79); index 0 = padding
    num_answers: int = 55  # answer classes (COG: 55)
    image_size: int = 112  # pixels path: H = W
    object_features: int = 55  # state path: F per object
    pointing: bool = True  # add a pointing head over a grid x grid lattice
    grid: int = 7


# Size fields (by the names the models use) and a tiny value for each: see ReasoningModel.small_config.
SMALL_SIZES: dict[str, Any] = {
    "dim": 32, "d": 32, "steps": 2, "slots": 4, "embed_dim": 16, "embedding_size": 16,
    "question_hidden": 32, "question_units": 32, "cnn_channels": (8, 8, 8, 16), "proj_dim": 32,
    "fc_dim": 64, "temporal_units": 32, "controller_units": 64, "attention_query": 32, "vis_units": 32,
    "g_width": 32, "f_width": 32, "g_layers": 2,
}


class ReasoningModel(nn.Module):
    """Base class: a registry name, a dataclass ``Config`` and the shared interface."""

    model_name: ClassVar[str] = ""
    Config: ClassVar[type] = IOConfig

    @classmethod
    def from_config(cls, **config: Any) -> ReasoningModel:
        known = {f.name for f in fields(cls.Config)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise TypeError(f"{cls.model_name or cls.__name__}: unknown config field(s) {', '.join(unknown)}")
        return cls(cls.Config(**config))

    @classmethod
    def small_config(cls) -> dict[str, Any]:
        """Overrides giving a tiny but complete instance (tests, smoke runs): every size field of
        ``Config`` listed in ``SMALL_SIZES`` is shrunk. A model may override this."""
        known = {f.name for f in fields(cls.Config)}
        return {k: v for k, v in SMALL_SIZES.items() if k in known}

    def forward(self, batch: dict[str, Tensor], trace: bool = False) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def invert_question(self, question: Tensor, lengths: Tensor) -> Tensor:
        """The question as the model reads it under question inversion (``optim.reverse_question``): [B, L].
        Default: the words reversed, padding stays at the end; a model may reverse otherwise."""
        from vrkit.models.layers.question import reverse_within

        return reverse_within(question, lengths)

    def reset_head(self, num_answers: int) -> None:
        """Replace the answer classifier by a fresh one with ``num_answers`` outputs. Default: the linear layer
        ``self.head`` (same inputs, same device) and ``self.config.num_answers``; a model whose classifier
        lives elsewhere overrides this."""
        old = self.head
        self.head = nn.Linear(old.in_features, num_answers).to(old.weight.device)
        self.config.num_answers = num_answers

    def units(self) -> dict[str, nn.Module]:  # pragma: no cover
        """Named blocks that fine-tuning may unfreeze one at a time (flex-tuning), input to output."""
        raise NotImplementedError
