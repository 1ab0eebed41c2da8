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


def _draw(rng: random.Random, domain: tuple[str, ...], exclude: str | None) -> str:
    return rng.choice(domain) if exclude is None else _other(rng, domain, {exclude})


def _domains(given: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(domain of the attribute the question fixes, domain of the other one); ``given`` is "color" or "shape"."""
    return (SHAPES, COLORS) if given == "shape" else (COLORS, SHAPES)


def _put_pair(scene: Scene, t: int, given: str, fixed: str, drawn: str) -> None:
    """Add an object whose ``given`` attribute is ``fixed`` and whose other attribute is ``drawn``."""
    if given == "shape":
        _put(scene, t, drawn, fixed)
    else:
        _put(scene, t, fixed, drawn)


def _go_attr_of(scene: Scene, given: str, first: str, second: str, rng: random.Random) -> None:
    """GoColorOf (``given`` = "shape") and GoShapeOf (``given`` = "color"): the ``first`` object at frame 1,
    a third distinct value at frame 2, two ``second`` objects at frame 3, one sharing frame 1's other
    attribute."""
    dom_given, dom_drawn = _domains(given)
    third = _other(rng, dom_given, {first, second})  # the template's third distinct value
    d1, d2 = rng.sample(dom_drawn, 2)
    d3 = rng.choice(dom_drawn)
    for t, fixed, drawn in ((1, first, d1), (2, third, d3), (3, second, d1), (3, second, d2)):
        _put_pair(scene, t, given, fixed, drawn)


def _last_same(scene: Scene, given: str, value: str, rng: random.Random) -> None:
    """ExistLastShapeSameColor (``given`` = "shape") and ExistLastColorSameShape (``given`` = "color"): two
    ``value`` objects and an odd one at frame 1, at frame 3 a ``value`` object sharing the other attribute
    with one of the first two half of the time."""
    _, dom_drawn = _domains(given)
    da, db = rng.sample(dom_drawn, 2)
    _put_pair(scene, 1, given, value, da)
    _put_pair(scene, 1, given, value, db)
    exclude = {given: value}  # the odd object: colour drawn before shape
    _put(scene, 1, _draw(rng, COLORS, exclude.get("color")), _draw(rng, SHAPES, exclude.get("shape")))
    d3 = rng.choice((da, db)) if rng.random() < 0.5 else _other(rng, dom_drawn, {da, db})
    _put_pair(scene, 3, given, value, d3)


def _go_color_of(scene: Scene, sel: Sel, rng: random.Random) -> None:
    _go_attr_of(scene, "shape", sel.color.sel.shape, sel.shape, rng)


def _go_shape_of(scene: Scene, sel: Sel, rng: random.Random) -> None:
    _go_attr_of(scene, "color", sel.shape.sel.color, sel.color, rng)


def _last_shape_same_color(scene: Scene, sel: Sel, rng: random.Random) -> None:
    _last_same(scene, "shape", sel.shape, rng)


def _last_color_same_shape(scene: Scene, sel: Sel, rng: random.Random) -> None:
    _last_same(scene, "color", sel.color, rng)


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
