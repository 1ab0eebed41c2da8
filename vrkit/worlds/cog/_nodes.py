"""COG operator nodes for the generator: text, evaluation and the guess pass
(docs/world-cog.md, 'Operators and evaluation', 'Scene construction').

Each node keeps a ``target`` slot during a guess pass: UNSET, SKIP, a value, or (for a Sel) a list of
specs ``[colour, shape, location]``. A parent hands targets to its children with :func:`hand`.
"""

from __future__ import annotations

from vrkit.worlds.cog._scene import Obj, Scene, draw_in, random_location, region_of
from vrkit.worlds.cog.combos import COLORS_WITH, SHAPES_WITH, in_split
from vrkit.worlds.cog.constants import COLORS, OPPOSITE, SHAPES


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:  # pragma: no cover
        return self.name


INVALID = _Sentinel("INVALID")
UNSET = _Sentinel("UNSET")
SKIP = _Sentinel("SKIP")


def hand(child: Node, value: object) -> None:
    """Hand a target to a child: SKIP overwrites; an unset slot takes the value; otherwise merge specs."""
    cur = child.target
    if value is SKIP or cur is UNSET:
        child.target = value
    elif cur is SKIP:
        return
    elif isinstance(cur, list) and isinstance(value, list):
        for spec in value:
            for e in cur:
                if not (e[0] is not None and spec[0] is not None) and not (e[1] is not None and spec[1] is not None):
                    if e[0] is None:
                        e[0] = spec[0]
                    if e[1] is None:
                        e[1] = spec[1]
                    break
            else:
                cur.append(list(spec))
    else:  # pragma: no cover - does not occur in the 44 families
        child.target = value


def _fit_split(scene: Scene, obj: Obj, color_free: bool, shape_free: bool) -> None:
    """Redraw ``obj``'s free attribute if its pair is outside the scene's split (both fixed: left as is; the
    generator redraws such examples)."""
    k = scene.combos
    if in_split(obj.color, obj.shape, k):
        return
    if shape_free:
        obj.shape = scene.rng.choice(SHAPES_WITH[k][obj.color])
    elif color_free:
        obj.color = scene.rng.choice(COLORS_WITH[k][obj.shape])


def _different(rng, domain: tuple[str, ...], value: str) -> str:
    while True:
        v = rng.choice(domain)
        if v != value:
            return v


class Node:
    __slots__ = ("target",)
    children: tuple = ()

    def __init__(self) -> None:
        self.target = UNSET

    def skip_children(self) -> None:
        for c in self.children:
            c.target = SKIP


class Sel(Node):
    """A selection: colour/shape constants or Color/Shape operators, a time word, an optional relation."""

    __slots__ = ("color", "shape", "when", "space", "ref", "children")

    def __init__(self, color=None, shape=None, when: str | None = None, space: str | None = None,
                 ref: Sel | None = None) -> None:
        super().__init__()
        self.color, self.shape, self.when, self.space = color, shape, when, space
        self.ref = Loc(ref) if ref is not None else None
        self.children = tuple(c for c in (self.ref, color, shape) if isinstance(c, Node))

    def text(self) -> str:
        words = [self.when] if self.when else []
        if isinstance(self.color, str):
            words.append(self.color)
        words.append(self.shape if isinstance(self.shape, str) else "object")
        if isinstance(self.color, Node):
            words += ["with", self.color.text()]
        if isinstance(self.shape, Node):
            if isinstance(self.color, Node):
                words.append("and")
            words += ["with", self.shape.text()]
        if self.ref is not None:
            words += ["on", self.space, "of", self.ref.text()]
        return " ".join(words)

    def _attrs(self, scene: Scene, t: int):
        """(region, colour, shape) with operators evaluated; INVALID if any operator is invalid."""
        region = None
        if self.ref is not None:
            loc = self.ref.evaluate(scene, t)
            if loc is INVALID:
                return INVALID
            region = region_of(self.space, loc[0], loc[1])
        color = self.color
        if isinstance(color, Node):
            color = color.evaluate(scene, t)
            if color is INVALID:
                return INVALID
        shape = self.shape
        if isinstance(shape, Node):
            shape = shape.evaluate(scene, t)
            if shape is INVALID:
                return INVALID
        return region, color, shape

    def evaluate(self, scene: Scene, t: int):
        attrs = self._attrs(scene, t)
        if attrs is INVALID:
            return INVALID
        return scene.query(attrs[1], attrs[2], attrs[0], self.when, t)

    def _fixed(self, node_or_const, scene: Scene, t: int):
        if node_or_const is None:
            return None
        if isinstance(node_or_const, str):
            return node_or_const
        v = node_or_const.evaluate(scene, t)
        return None if v is INVALID else v

    def guess(self, scene: Scene, t: int) -> None:
        specs = self.target
        if specs is SKIP:
            self.skip_children()
            return
        if specs is UNSET:  # pragma: no cover - every Sel has a parent that hands it a target
            return
        if specs:
            self._guess_present(scene, t, specs[0])
        else:
            self._guess_absent(scene, t)

    def _guess_present(self, scene: Scene, t: int, spec: list) -> None:
        region = ref_loc = None
        if self.ref is not None:
            ref_loc = self.ref.evaluate(scene, t)
            if ref_loc is not INVALID:
                region = region_of(self.space, ref_loc[0], ref_loc[1])
        color = self._fixed(self.color, scene, t)
        shape = self._fixed(self.shape, scene, t)
        obj = scene.add(color, shape, region, self.when, t)
        if obj is None:
            self.skip_children()
            return
        if spec[0] is not None and color is None:
            obj.color = spec[0]
        if spec[1] is not None and shape is None:
            obj.shape = spec[1]
        if spec[2] is not None and region is None:
            obj.x, obj.y = spec[2]
        if scene.combos is not None:  # a pair the spec completed outside the split: redraw the free attribute
            _fit_split(scene, obj, color is None and spec[0] is None, shape is None and spec[1] is None)
        if isinstance(self.color, Node):
            hand(self.color, obj.color)
        if isinstance(self.shape, Node):
            hand(self.shape, obj.shape)
        if self.ref is not None:
            hand(self.ref, draw_in(region_of(OPPOSITE[self.space], obj.x, obj.y), scene.rng))

    def _guess_absent(self, scene: Scene, t: int) -> None:
        rng = scene.rng
        attrs = []
        loc = color = shape = None
        if self.ref is not None:
            loc = self.ref.evaluate(scene, t)
            if loc is INVALID:
                loc = random_location(rng)
            hand(self.ref, loc)
            attrs.append("loc")
        if self.color is not None:
            color = self._fixed(self.color, scene, t) or rng.choice(COLORS)
            if isinstance(self.color, Node):
                hand(self.color, color)
            attrs.append("color")
        if self.shape is not None:
            shape = self._fixed(self.shape, scene, t) or rng.choice(
                SHAPES if scene.combos is None or color is None else SHAPES_WITH[scene.combos][color])
            if isinstance(self.shape, Node):
                hand(self.shape, shape)
            attrs.append("shape")
        if not attrs:  # pragma: no cover - no family asks for an absent unconstrained object
            return
        region = None
        a = rng.choice(attrs)
        if a == "loc":
            region = region_of(OPPOSITE[self.space], loc[0], loc[1])
        else:
            k = scene.combos
            if a == "color":
                color = _different(rng, COLORS if k is None or shape is None else COLORS_WITH[k][shape], color)
            else:
                shape = _different(rng, SHAPES if k is None or color is None else SHAPES_WITH[k][color], shape)
            if loc is not None:
                region = region_of(self.space, loc[0], loc[1])
        scene.add(color, shape, region, self.when, t)


class _Getter(Node):
    """Color[X], Shape[X], Loc[X], Go[X]: an attribute of the unique object of X."""

    __slots__ = ("sel", "children")
    word = ""

    def __init__(self, sel: Sel) -> None:
        super().__init__()
        self.sel = sel
        self.children = (sel,)

    def evaluate(self, scene: Scene, t: int):
        objs = self.sel.evaluate(scene, t)
        if objs is INVALID or len(objs) != 1:
            return INVALID
        return self.get(objs[0])

    def guess(self, scene: Scene, t: int) -> None:
        v = self.target
        if v is SKIP:
            self.sel.target = SKIP
            return
        if v is UNSET:
            k = scene.combos
            v = self.draw(scene.rng) if k is None or not hasattr(self, "domain") else \
                scene.rng.choice(_split_domain(self, k, self.domain))
        hand(self.sel, [self.spec(v)])


class _Attribute(_Getter):
    """Color[X] / Shape[X]: one named attribute of X's object, drawn from ``domain``; its guess hands X the
    attribute at position ``slot`` of a [colour, shape, location] spec."""

    __slots__ = ()
    attr = ""
    slot = 0
    domain: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{self.attr} of " + self.sel.text()

    def get(self, o: Obj):
        return getattr(o, self.attr)

    def draw(self, rng):
        return rng.choice(self.domain)

    def spec(self, v) -> list:
        spec = [None, None, None]
        spec[self.slot] = v
        return spec


class Color(_Attribute):
    __slots__ = ()
    attr, slot, domain = "color", 0, COLORS


class Shape(_Attribute):
    __slots__ = ()
    attr, slot, domain = "shape", 1, SHAPES


class Loc(_Getter):
    __slots__ = ()

    def text(self) -> str:
        return self.sel.text()

    @staticmethod
    def get(o: Obj):
        return (o.x, o.y)

    draw = staticmethod(random_location)

    @staticmethod
    def spec(v) -> list:
        return [None, None, v]


class Go(Loc):
    __slots__ = ()

    def text(self) -> str:
        return "point " + self.sel.text()


def _split_domain(x: str | _Getter, split: str, domain: tuple[str, ...]) -> tuple[str, ...]:
    """Values of getter ``x`` possible in split scenes (combos.py): the partners of its selection's constant
    attribute, else ``domain``."""
    if isinstance(x, Color) and isinstance(x.sel.shape, str):
        return COLORS_WITH[split][x.sel.shape]
    if isinstance(x, Shape) and isinstance(x.sel.color, str):
        return SHAPES_WITH[split][x.sel.color]
    return domain
