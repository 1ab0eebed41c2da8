"""Execute CLEVR functional programs on a scene (docs/world-clevr.md, 'Functions').

Object sets are bit masks (bit ``i`` = object ``i``), which makes filters, relations, unions and
intersections single integer operations; :meth:`SceneIndex.ids` turns a mask into the ascending id list.
Output types per function: set -> int mask, object -> int id, count -> int, booleans -> bool,
query -> attribute value string. A ``unique`` on a set of size != 1 yields :data:`INVALID`, which
aborts the program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vrkit.worlds.clevr.constants import ATTRIBUTE_ORDER, RELATIONS


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


class SceneIndex:
    """Per-scene lookup tables: attribute value -> object mask, relation -> per-object mask.

    ``attrs[i]`` is object ``i``'s (size, color, material, shape) tuple."""

    def __init__(self, scene: dict) -> None:
        objs = scene["objects"]
        self.scene = scene
        self.n = len(objs)
        self.all = (1 << self.n) - 1
        self.attrs: list[tuple[str, str, str, str]] = [tuple(o[a] for a in ATTRIBUTE_ORDER) for o in objs]
        self.value_mask: dict[tuple[str, str], int] = {}
        for i, vals in enumerate(self.attrs):
            for a, v in zip(ATTRIBUTE_ORDER, vals):
                self.value_mask[(a, v)] = self.value_mask.get((a, v), 0) | (1 << i)
        rels = scene["relationships"]
        self.rel: dict[str, list[int]] = {}
        for r in RELATIONS:
            masks = []
            for ids in rels[r]:
                m = 0
                for j in ids:
                    m |= 1 << j
                masks.append(m)
            self.rel[r] = masks
        # same_<attr>[i]: other objects sharing object i's value.
        self.same: dict[str, list[int]] = {}
        for k, a in enumerate(ATTRIBUTE_ORDER):
            self.same[a] = [self.value_mask[(a, self.attrs[i][k])] & ~(1 << i) for i in range(self.n)]

    @staticmethod
    def ids(mask: int) -> list[int]:
        """Ascending object ids of a mask."""
        out = []
        i = 0
        while mask:
            if mask & 1:
                out.append(i)
            mask >>= 1
            i += 1
        return out

    def filter(self, mask: int, attr: str, value: str) -> int:
        return mask & self.value_mask.get((attr, value), 0)


_ATTR_POS = {a: k for k, a in enumerate(ATTRIBUTE_ORDER)}


def _unique(index: SceneIndex, args: Sequence[Any], value: str | None) -> Any:
    m = args[0]
    if m == 0 or m & (m - 1):
        return INVALID
    return m.bit_length() - 1


def _build_dispatch() -> dict[str, Callable[[SceneIndex, Sequence[Any], Any], Any]]:
    d: dict[str, Callable[[SceneIndex, Sequence[Any], Any], Any]] = {
        "scene": lambda ix, a, v: ix.all,
        "unique": _unique,
        "relate": lambda ix, a, v: ix.rel[v][a[0]],
        "count": lambda ix, a, v: a[0].bit_count(),
        "exist": lambda ix, a, v: a[0] != 0,
        "union": lambda ix, a, v: a[0] | a[1],
        "intersect": lambda ix, a, v: a[0] & a[1],
        "equal_integer": lambda ix, a, v: a[0] == a[1],
        "equal_object": lambda ix, a, v: a[0] == a[1],
        "less_than": lambda ix, a, v: a[0] < a[1],
        "greater_than": lambda ix, a, v: a[0] > a[1],
    }
    for attr in ATTRIBUTE_ORDER:
        pos = _ATTR_POS[attr]
        d[f"filter_{attr}"] = lambda ix, a, v, attr=attr: a[0] & ix.value_mask.get((attr, v), 0)
        d[f"same_{attr}"] = lambda ix, a, v, attr=attr: ix.same[attr][a[0]]
        d[f"query_{attr}"] = lambda ix, a, v, pos=pos: ix.attrs[a[0]][pos]
        d[f"equal_{attr}"] = lambda ix, a, v: a[0] == a[1]
    return d


_DISPATCH = _build_dispatch()


def apply(index: SceneIndex, fn: str, args: Sequence[Any], value: str | None = None) -> Any:
    """Apply one function to already-computed input outputs ``args``; returns INVALID on failure."""
    for a in args:
        if a is INVALID:
            return INVALID
    try:
        f = _DISPATCH[fn]
    except KeyError:
        raise KeyError(f"unknown function {fn!r}") from None
    return f(index, args, value)


def execute(program: Sequence[dict], index: SceneIndex) -> list[Any]:
    """Outputs of every node of a released-format program (stops at the first INVALID, which is
    the last element then)."""
    outs: list[Any] = []
    for node in program:
        vals = node.get("value_inputs") or ()
        out = apply(index, node["function"], [outs[i] for i in node["inputs"]], vals[0] if vals else None)
        outs.append(out)
        if out is INVALID:
            break
    return outs


def format_answer(value: Any) -> str:
    """Released answer string: booleans -> yes/no, integers -> decimal, attribute values unchanged."""
    if value is INVALID:
        raise ValueError("program is invalid on this scene")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def answer(program: Sequence[dict], scene: dict | SceneIndex) -> str | None:
    """The program's answer as a released string, or None if execution hits INVALID."""
    index = scene if isinstance(scene, SceneIndex) else SceneIndex(scene)
    outs = execute(program, index)
    if not outs or outs[-1] is INVALID:
        return None
    return format_answer(outs[-1])
