"""Scenes of the five fixed-scene families (docs/world-cog.md, 'Fixed-scene families').

No distractors and no guess pass: objects are added with ``now`` at fixed frames (normal placement,
avoidance), M = 4, and answers come from the normal evaluator.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vrkit.worlds.cog._nodes import Node, Sel
from vrkit.worlds.cog._scene import Scene
from vrkit.worlds.cog.combos import split_pairs
from vrkit.worlds.cog.constants import COLORS, SHAPES

FIXED_LOOKBACK = 4


def _put(scene: Scene, t: int, color: str, shape: str) -> None:
    scene.add(color, shape, None, "now", t, check=False)


def _other(rng: random.Random, domain: tuple[str, ...], exclude: set[str]) -> str:
    return rng.choice([v for v in domain if v not in exclude])


def _inner_sel(root: Node) -> Sel:
    """The selection under the root getter/Exist (the one with operator attributes)."""
    return root.sel  # type: ignore[attr-defined]


def _go_color_of(scene: Scene, sel: Sel, rng: random.Random) -> None:
    s1, s2 = sel.color.sel.shape, sel.shape
    s3 = _other(rng, SHAPES, {s1, s2})  # the template's third distinct shape
    c1, c2 = rng.sample(COLORS, 2)
    c3 = rng.choice(COLORS)
    _put(scene, 1, c1, s1)
    _put(scene, 2, c3, s3)
    _put(scene, 3, c1, s2)
    _put(scene, 3, c2, s2)


def _go_shape_of(scene: Scene, sel: Sel, rng: random.Random) -> None:
    c1, c2 = sel.shape.sel.color, sel.color
    c3 = _other(rng, COLORS, {c1, c2})
    s1, s2 = rng.sample(SHAPES, 2)
    s3 = rng.choice(SHAPES)
    _put(scene, 1, c1, s1)
    _put(scene, 2, c3, s3)
    _put(scene, 3, c2, s1)
    _put(scene, 3, c2, s2)


def _last_shape_same_color(scene: Scene, sel: Sel, rng: random.Random) -> None:
    s = sel.shape
    ca, cb = rng.sample(COLORS, 2)
    _put(scene, 1, ca, s)
    _put(scene, 1, cb, s)
    _put(scene, 1, rng.choice(COLORS), _other(rng, SHAPES, {s}))
    c3 = rng.choice((ca, cb)) if rng.random() < 0.5 else _other(rng, COLORS, {ca, cb})
    _put(scene, 3, c3, s)


def _last_color_same_shape(scene: Scene, sel: Sel, rng: random.Random) -> None:
    c = sel.color
    sa, sb = rng.sample(SHAPES, 2)
    _put(scene, 1, c, sa)
    _put(scene, 1, c, sb)
    _put(scene, 1, _other(rng, COLORS, {c}), rng.choice(SHAPES))
    s3 = rng.choice((sa, sb)) if rng.random() < 0.5 else _other(rng, SHAPES, {sa, sb})
    _put(scene, 3, c, s3)


def _last_object_same_object(scene: Scene, sel: Sel, rng: random.Random) -> None:
    n = rng.randint(1, 4)
    if scene.combos is None:
        idx = rng.sample(range(len(COLORS) * len(SHAPES)), n + 1)
        pairs = [(COLORS[i // len(SHAPES)], SHAPES[i % len(SHAPES)]) for i in idx]
    else:
        pairs = rng.sample(split_pairs(scene.combos), n + 1)
    for c, s in pairs[:n]:
        _put(scene, 1, c, s)
    c, s = rng.choice(pairs[:n]) if rng.random() < 0.5 else pairs[n]
    _put(scene, 3, c, s)


#: The scene builder of each fixed-scene family (the keys are ``constants.FIXED_SCENE_FAMILIES``, tested).
FIXED_SCENE_BUILDERS: dict[str, Callable[[Scene, Sel, random.Random], None]] = {
    "GoColorOf": _go_color_of,
    "GoShapeOf": _go_shape_of,
    "ExistLastShapeSameColor": _last_shape_same_color,
    "ExistLastColorSameShape": _last_color_same_shape,
    "ExistLastObjectSameObject": _last_object_same_object,
}


def build_fixed_scene(family: str, root: Node, frames: int, rng: random.Random,
                      combos: str | None = None) -> Scene:
    """Populate the fixed scene for ``family`` whose template ``root`` was already drawn (``combos``: the
    compositional split of the scene, combos.py)."""
    if family not in FIXED_SCENE_BUILDERS:
        raise ValueError(f"{family} is not a fixed-scene family")
    if frames < 4:
        raise ValueError(f"{family} needs at least 4 frames (got {frames})")
    scene = Scene(frames, FIXED_LOOKBACK, rng, combos)
    FIXED_SCENE_BUILDERS[family](scene, _inner_sel(root), rng)
    return scene
