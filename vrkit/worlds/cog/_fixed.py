"""Scenes of the five fixed-scene families (cog-spec.md §5.3).

No distractors and no guess pass: objects are added with ``now`` at fixed frames (normal placement,
avoidance), M = 4, and answers come from the normal evaluator.
"""

from __future__ import annotations

import random

from vrkit.worlds.cog._nodes import Node, Sel
from vrkit.worlds.cog._scene import Scene
from vrkit.worlds.cog.constants import COLORS, SHAPES

FIXED_LOOKBACK = 4


def _put(scene: Scene, t: int, color: str, shape: str) -> None:
    scene.add(color, shape, None, "now", t, check=False)


def _other(rng: random.Random, domain: tuple[str, ...], exclude: set[str]) -> str:
    return rng.choice([v for v in domain if v not in exclude])


def _inner_sel(root: Node) -> Sel:
    """The selection under the root getter/Exist (the one with operator attributes)."""
    return root.sel  # type: ignore[attr-defined]


def build_fixed_scene(family: str, root: Node, frames: int, rng: random.Random) -> Scene:
    """Populate the fixed scene for ``family`` whose template ``root`` was already drawn."""
    if frames < 4:
        raise ValueError(f"{family} needs at least 4 frames (got {frames})")
    scene = Scene(frames, FIXED_LOOKBACK, rng)
    sel = _inner_sel(root)
    if family == "GoColorOf":
        s1, s2 = sel.color.sel.shape, sel.shape
        s3 = _other(rng, SHAPES, {s1, s2})  # the template's third distinct shape
        c1, c2 = rng.sample(COLORS, 2)
        c3 = rng.choice(COLORS)
        _put(scene, 1, c1, s1)
        _put(scene, 2, c3, s3)
        _put(scene, 3, c1, s2)
        _put(scene, 3, c2, s2)
    elif family == "GoShapeOf":
        c1, c2 = sel.shape.sel.color, sel.color
        c3 = _other(rng, COLORS, {c1, c2})
        s1, s2 = rng.sample(SHAPES, 2)
        s3 = rng.choice(SHAPES)
        _put(scene, 1, c1, s1)
        _put(scene, 2, c3, s3)
        _put(scene, 3, c2, s1)
        _put(scene, 3, c2, s2)
    elif family == "ExistLastShapeSameColor":
        s = sel.shape
        ca, cb = rng.sample(COLORS, 2)
        _put(scene, 1, ca, s)
        _put(scene, 1, cb, s)
        _put(scene, 1, rng.choice(COLORS), _other(rng, SHAPES, {s}))
        c3 = rng.choice((ca, cb)) if rng.random() < 0.5 else _other(rng, COLORS, {ca, cb})
        _put(scene, 3, c3, s)
    elif family == "ExistLastColorSameShape":
        c = sel.color
        sa, sb = rng.sample(SHAPES, 2)
        _put(scene, 1, c, sa)
        _put(scene, 1, c, sb)
        _put(scene, 1, _other(rng, COLORS, {c}), rng.choice(SHAPES))
        s3 = rng.choice((sa, sb)) if rng.random() < 0.5 else _other(rng, SHAPES, {sa, sb})
        _put(scene, 3, c, s3)
    elif family == "ExistLastObjectSameObject":
        n = rng.randint(1, 4)
        idx = rng.sample(range(len(COLORS) * len(SHAPES)), n + 1)
        pairs = [(COLORS[i // len(SHAPES)], SHAPES[i % len(SHAPES)]) for i in idx]
        for c, s in pairs[:n]:
            _put(scene, 1, c, s)
        c, s = rng.choice(pairs[:n]) if rng.random() < 0.5 else pairs[n]
        _put(scene, 3, c, s)
    else:  # pragma: no cover
        raise ValueError(f"{family} is not a fixed-scene family")
    return scene
