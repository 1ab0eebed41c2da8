"""The 44 COG task families (docs/world-cog.md, 'Families'): one template builder per family.

A builder draws the family's constants and time words with ``rng`` and returns the operator tree.
Fixed-scene families (docs/world-cog.md, 'Fixed-scene families') also have a scene builder in
:mod:`vrkit.worlds.cog._fixed`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vrkit.worlds.cog._logic import And, Exist, If, Same
from vrkit.worlds.cog._nodes import Color, Go, Node, Sel, Shape
from vrkit.worlds.cog.constants import COLORS, FAMILIES, SHAPES, SPACES

Builder = Callable[[random.Random], Node]
TEMPLATES: dict[str, Builder] = {}


def _family(name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        TEMPLATES[name] = fn
        return fn

    return deco


def W(rng: random.Random) -> str:
    """A random time word: now 0.5, latest 0.25, last1 0.25."""
    r = rng.random()
    return "now" if r < 0.5 else "latest" if r < 0.75 else "last1"


def SP(rng: random.Random) -> str:
    return rng.choice(SPACES)


def colors(rng: random.Random, k: int) -> list[str]:
    return rng.sample(COLORS, k)


def shapes(rng: random.Random, k: int) -> list[str]:
    return rng.sample(SHAPES, k)


def pairs(rng: random.Random, k: int) -> list[tuple[str, str]]:
    """k distinct (colour, shape) pairs out of the 672."""
    idx = rng.sample(range(len(COLORS) * len(SHAPES)), k)
    return [(COLORS[i // len(SHAPES)], SHAPES[i % len(SHAPES)]) for i in idx]


# --- pointing and getters ------------------------------------------------------------------
def _one_sel(rng: random.Random, kind: str) -> dict:
    """The attributes of one selection: a random colour, shape, or (colour, shape) pair ("pair")."""
    if kind == "color":
        return {"color": rng.choice(COLORS)}
    if kind == "shape":
        return {"shape": rng.choice(SHAPES)}
    (c, s), = pairs(rng, 1)
    return {"color": c, "shape": s}


for _kind, _name in (("color", "GoColor"), ("shape", "GoShape"), ("pair", "Go")):
    TEMPLATES[_name] = lambda rng, kind=_kind: Go(Sel(**_one_sel(rng, kind), when=W(rng)))


@_family("GoColorOf")
def _go_color_of(rng):
    s1, s2, _s3 = shapes(rng, 3)
    return Go(Sel(color=Color(Sel(shape=s1, when="latest")), shape=s2, when="now"))


@_family("GoShapeOf")
def _go_shape_of(rng):
    c1, c2, _c3 = colors(rng, 3)
    return Go(Sel(color=c2, shape=Shape(Sel(color=c1, when="latest")), when="now"))


TEMPLATES["GetColor"] = lambda rng: Color(Sel(**_one_sel(rng, "shape"), when=W(rng)))
TEMPLATES["GetShape"] = lambda rng: Shape(Sel(**_one_sel(rng, "color"), when=W(rng)))


@_family("GetColorSpace")
def _get_color_space(rng):
    s1, s2 = shapes(rng, 2)
    ref = Sel(shape=s1, when=W(rng))
    return Color(Sel(shape=s2, when=W(rng), space=SP(rng), ref=ref))


@_family("GetShapeSpace")
def _get_shape_space(rng):
    c1, c2 = colors(rng, 2)
    ref = Sel(color=c1, when=W(rng))
    return Shape(Sel(color=c2, when=W(rng), space=SP(rng), ref=ref))


# --- existence -----------------------------------------------------------------------------
for _kind, _name in (("color", "ExistColor"), ("shape", "ExistShape"), ("pair", "Exist")):
    TEMPLATES[_name] = lambda rng, kind=_kind: Exist(Sel(**_one_sel(rng, kind), when="now"))


def _space_sels(rng, kind: str, n: int) -> list[dict]:
    """n attribute dicts for selections of distinct colours, shapes or (colour, shape) pairs."""
    if kind == "color":
        return [{"color": c} for c in colors(rng, n)]
    if kind == "shape":
        return [{"shape": s} for s in shapes(rng, n)]
    return [{"color": c, "shape": s} for c, s in pairs(rng, n)]


def _exist_space_sel(rng, a: dict, b: dict) -> Sel:
    ref = Sel(**a, when=W(rng))
    return Sel(**b, when="now", space=SP(rng), ref=ref)


for _kind, _name in (("color", "ExistColorSpace"), ("shape", "ExistShapeSpace"), ("pair", "ExistSpace")):
    def _make(rng, kind=_kind):
        a, b = _space_sels(rng, kind, 2)
        return Exist(_exist_space_sel(rng, a, b))

    TEMPLATES[_name] = _make

for _kind, _name in (("color", "ExistColorSpaceGo"), ("shape", "ExistShapeSpaceGo"), ("pair", "ExistSpaceGo")):
    def _make_go(rng, kind=_kind):
        a, b, c, d = _space_sels(rng, kind, 4)
        return If(Exist(_exist_space_sel(rng, a, b)), Go(Sel(**c)), Go(Sel(**d)))

    TEMPLATES[_name] = _make_go


@_family("ExistShapeOf")
def _exist_shape_of(rng):
    c1, c2 = colors(rng, 2)
    return Exist(Sel(color=c2, shape=Shape(Sel(color=c1, when=W(rng))), when="now"))


@_family("ExistColorOf")
def _exist_color_of(rng):
    s1, s2 = shapes(rng, 2)
    return Exist(Sel(color=Color(Sel(shape=s1, when=W(rng))), shape=s2, when="now"))


@_family("ExistLastShapeSameColor")
def _exist_last_shape_same_color(rng):
    s = rng.choice(SHAPES)
    return Exist(Sel(color=Color(Sel(shape=s, when="now")), shape=s, when="last1"))


@_family("ExistLastColorSameShape")
def _exist_last_color_same_shape(rng):
    c = rng.choice(COLORS)
    return Exist(Sel(color=c, shape=Shape(Sel(color=c, when="now")), when="last1"))


@_family("ExistLastObjectSameObject")
def _exist_last_object_same_object(rng):
    x = Sel(when="now")
    return Exist(Sel(color=Color(x), shape=Shape(x), when="last1"))


# --- conditional pointing ------------------------------------------------------------------
for _kind, _name in (("color", "SimpleExistColorGo"), ("shape", "SimpleExistShapeGo"),
                     ("pair", "SimpleExistGo"), ("pair", "AndSimpleExistGo")):
    def _make_simple(rng, kind=_kind):
        a, b = _space_sels(rng, kind, 2)
        sel_a = Sel(**a, when="now")
        return If(Exist(sel_a), Go(sel_a), Go(Sel(**b, when=W(rng))))

    TEMPLATES[_name] = _make_simple

for _kind, _name in (("color", "AndSimpleExistColorGo"), ("shape", "AndSimpleExistShapeGo")):
    def _make_and_simple(rng, kind=_kind):
        a, b, c = _space_sels(rng, kind, 3)
        sel_a = Sel(**a, when="now")
        cond = And(Exist(sel_a), Exist(Sel(**b, when="now")))
        return If(cond, Go(sel_a), Go(Sel(**c, when=W(rng))))

    TEMPLATES[_name] = _make_and_simple

for _kind, _name in (("color", "ExistColorGo"), ("shape", "ExistShapeGo"), ("pair", "ExistGo")):
    def _make_exist_go(rng, kind=_kind):
        a, b, c = _space_sels(rng, kind, 3)
        return If(Exist(Sel(**a, when="now")), Go(Sel(**b, when=W(rng))), Go(Sel(**c, when=W(rng))))

    TEMPLATES[_name] = _make_exist_go


# --- comparisons ---------------------------------------------------------------------------
def _simple_compare(rng, kind: str) -> Same:
    if kind == "color":
        getter, const = Color(Sel(shape=rng.choice(SHAPES), when=W(rng))), rng.choice(COLORS)
    else:
        getter, const = Shape(Sel(color=rng.choice(COLORS), when=W(rng))), rng.choice(SHAPES)
    return Same(getter, const) if rng.random() < 0.5 else Same(const, getter)


def _getters(rng, kind: str, n: int) -> list:
    if kind == "color":
        return [Color(Sel(shape=s, when=W(rng))) for s in shapes(rng, n)]
    return [Shape(Sel(color=c, when=W(rng))) for c in colors(rng, n)]


for _kind, _name in (("color", "SimpleCompareColor"), ("shape", "SimpleCompareShape")):
    TEMPLATES[_name] = lambda rng, kind=_kind: _simple_compare(rng, kind)

for _kind, _name in (("color", "AndSimpleCompareColor"), ("shape", "AndSimpleCompareShape")):
    def _make_and_simple_compare(rng, kind=_kind):
        g1, g2 = _getters(rng, kind, 2)
        domain = COLORS if kind == "color" else SHAPES
        ca, cb = rng.choice(domain), rng.choice(domain)
        rng.random()  # the original's operand-swap coin: both branches are identical (quirk 2)
        return And(Same(g1, ca), Same(g2, cb))

    TEMPLATES[_name] = _make_and_simple_compare

for _kind, _name in (("color", "CompareColor"), ("shape", "CompareShape")):
    def _make_compare(rng, kind=_kind):
        g1, g2 = _getters(rng, kind, 2)
        return Same(g1, g2)

    TEMPLATES[_name] = _make_compare

for _kind, _name in (("color", "AndCompareColor"), ("shape", "AndCompareShape")):
    def _make_and_compare(rng, kind=_kind):
        g1, g2, g3, g4 = _getters(rng, kind, 4)
        return And(Same(g1, g2), Same(g3, g4))

    TEMPLATES[_name] = _make_and_compare


def _compare_const_go(rng, kind: str) -> If:
    """41/42: If(Same(getter, constant) or swapped; Go[...]; Go[...]) with two all-frame branch objects."""
    if kind == "color":
        s1, s2 = shapes(rng, 2)
        c1, c2 = colors(rng, 2)
        getter, const = Color(Sel(shape=s1, when=W(rng))), rng.choice(COLORS)
        branches = (Sel(color=c1, shape=s2), Sel(color=c2, shape=s2))
    else:
        c1, c2 = colors(rng, 2)
        sa, sb = shapes(rng, 2)
        getter, const = Shape(Sel(color=c1, when=W(rng))), rng.choice(SHAPES)
        branches = (Sel(color=c2, shape=sa), Sel(color=c2, shape=sb))
    cond = Same(getter, const) if rng.random() < 0.5 else Same(const, getter)
    return If(cond, Go(branches[0]), Go(branches[1]))


TEMPLATES["SimpleCompareColorGo"] = lambda rng: _compare_const_go(rng, "color")
TEMPLATES["SimpleCompareShapeGo"] = lambda rng: _compare_const_go(rng, "shape")


def _compare_go(rng, kind: str) -> If:
    """CompareColorGo / CompareShapeGo: if two objects agree on ``kind``, point at one of two objects that
    differ in ``kind`` only, else at the other."""
    getter, other, given, drawn = (Color, "shape", shapes, colors) if kind == "color" else \
        (Shape, "color", colors, shapes)
    g1, g2, g3 = given(rng, 3)
    d1, d2 = drawn(rng, 2)
    cond = Same(getter(Sel(**{other: g1}, when=W(rng))), getter(Sel(**{other: g2}, when=W(rng))))
    return If(cond, Go(Sel(**{kind: d1, other: g3})), Go(Sel(**{kind: d2, other: g3})))


TEMPLATES["CompareColorGo"] = lambda rng: _compare_go(rng, "color")
TEMPLATES["CompareShapeGo"] = lambda rng: _compare_go(rng, "shape")


assert set(TEMPLATES) == set(FAMILIES), sorted(set(FAMILIES) ^ set(TEMPLATES))
