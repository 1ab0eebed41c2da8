"""COG examples as short videos for IV-CL pretraining (docs/ivcl.md, 'COG with the combination split').

:class:`CogVideoSource` has the interface of :class:`vrkit.data.cater.WorldSource` (``make``, ``state``,
``sizes``), so :class:`~vrkit.data.cater.CaterStream`, the pretraining datamodule and ``vrkit.engine.pretrain_run``
read COG frames without change. Video ``seed`` is example ``generate_example(family, variant, rng)`` of
``make_rng(seed, "cog-video")``, the family drawn from the same random source, and its E frames (4 in the
canonical variant) rendered at ``world["size"]`` (:func:`vrkit.data.cog.render_frames`). A variant with a
compositional split (``canonical-A``; :mod:`vrkit.worlds.cog.combos`) gives videos whose every object is a
colour × shape pair of that split.

CATER's labels do not exist here: ``snitch_cell`` is 0, ``snitch_contained_at_end`` False and ``actions``
empty; only the frames (self-supervised pretraining) and the state path (the supervised analogues) are used.
The state path is COG's own (:func:`vrkit.worlds.cog.state.encode_state`): each object of a frame as a
colour one-hot (21), a shape one-hot (32) and its x, y position, so the 53 leading features are categorical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrkit.worlds.cog.constants import FAMILIES, Variant

# At most this many objects of a frame in the state path (canonical COG frames hold up to 5; the cap keeps
# the question's objects first: encode_state).
MAX_OBJECTS = 8


@dataclass
class CogVideo:
    frames: np.ndarray  # (E, S, S, 3) uint8
    example: dict[str, Any]  # the official example dict
    snitch_cell: int = 0
    snitch_contained_at_end: bool = False
    actions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


class CogVideoSource:
    """COG examples of ``variant`` (a name such as ``canonical-A`` or a :class:`Variant`) drawn from
    ``families`` (default: all 44) as videos (module docstring)."""

    def __init__(self, variant: str | Variant = "canonical-A", families: tuple[str, ...] = FAMILIES) -> None:
        from vrkit.worlds.cog.generator import resolve_variant

        self.variant = resolve_variant(variant)
        self.families = tuple(families)
        if not self.families:
            raise ValueError("families must not be empty")

    def _check(self, world: dict[str, Any]) -> int:
        frames = int(world.get("frames", self.variant.frames))
        if frames != self.variant.frames:
            raise ValueError(f"COG {self.variant.suffix} examples have {self.variant.frames} frames, "
                             f"not {frames} (set data.frames to {self.variant.frames})")
        unknown = sorted(set(world) - {"size", "frames"})
        if unknown:
            raise ValueError(f"unknown COG video option(s) {', '.join(unknown)} (known: frames, size)")
        return int(world.get("size", 64))

    def make(self, seed: int, world: dict[str, Any]) -> CogVideo:
        from vrkit.data.cog import render_frames
        from vrkit.worlds.cog.generator import generate_example, make_rng

        size = self._check(world)
        rng = make_rng(int(seed), "cog-video")
        example = generate_example(rng.choice(self.families), self.variant, rng)
        frames = render_frames(example, size, "uint8").permute(0, 2, 3, 1).numpy()  # (E, S, S, 3)
        return CogVideo(np.ascontiguousarray(frames), example)

    def state(self, video: CogVideo) -> tuple[np.ndarray, np.ndarray, int]:
        """(objects (E, MAX_OBJECTS, 55), object_mask (E, MAX_OBJECTS), 53 categorical features)."""
        from vrkit.worlds.cog.state import NUM_COLORS, NUM_SHAPES, encode_state

        objects, mask = encode_state(video.example, MAX_OBJECTS)
        return objects, mask, NUM_COLORS + NUM_SHAPES

    def sizes(self, world: dict[str, Any]) -> dict[str, int]:
        """``features`` per object, categorical ``attributes``, ``max_objects`` per frame."""
        from vrkit.worlds.cog.state import NUM_COLORS, NUM_SHAPES, STATE_FEATURES

        self._check(world)
        return {"features": STATE_FEATURES, "attributes": NUM_COLORS + NUM_SHAPES, "max_objects": MAX_OBJECTS}
