"""Independent COG answer checker: question text → operator tree → per-frame answers
(docs/world-cog.md, 'Operators and evaluation').

Written only from the world's rules (docs/world-cog.md), deliberately without the generator's evaluator, so
that it can catch generator bugs. :func:`parse_question` rebuilds the tree from the text, :func:`evaluate`
evaluates it on an example's objects at every frame, and :func:`check_example` compares with the stored answers.

Rules and quirks of the original that the checker honours (docs/world-cog.md, 'Quirks kept'):

* **Distractors are invisible**: objects with ``is_distractor`` true never match a selection. (The original
  deletes every distractor a query touches, so the stored scene never shows one that would match.)
* **Selections** evaluate their operator attributes first (reference location, colour, shape); any invalid one
  makes the selection invalid. A selection that finds nothing is the empty set, not invalid.
* **Time words**: ``now`` searches frame t; ``latest`` and no word search t, t−1, …, max(0, t−M); ``last1``
  searches t−1, …, max(0, t−1−M), i.e. nothing at t = 0. The first frame with a match gives the whole set.
* **Regions** are strict and clipped to the open interval (0.05, 0.95) on both axes; "top" is smaller y.
* **Getters** (colour, shape, location/point) need exactly one selected object, else ``invalid``.
* **And quirk**: if P is false the result is false and Q is not evaluated; otherwise (P true *or invalid*)
  the result is Q's value. An invalid first conjunct alone never makes And invalid.
* **If** is invalid when its condition is; otherwise it takes the value of the chosen branch only.
* **Same** is invalid when either side is; a side may be a bare constant word.
* **Look-back M**: M = max_memory for both official variants (the original's look-back formula is the identity
  for 1..15).
  The five fixed-scene families used M = 4 in the original; :func:`family_lookback` reproduces that, and on
  the official sample M ∈ {3, 4, 7} gives identical answers for them (verified by the
  tests).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vrkit.worlds.cog._cog_parse import (
    And,
    Exist,
    GetColor,
    GetShape,
    Go,
    If,
    Node,
    QuestionSyntaxError,
    Rel,
    Same,
    Sel,
    parse_question,
    to_text,
)
from vrkit.worlds.cog._cog_templates import FAMILY_TEMPLATES, template_problem
from vrkit.worlds.cog.constants import COLOR_INDEX, FIXED_SCENE_FAMILIES, SHAPE_INDEX

__all__ = [
    "And",
    "Exist",
    "GetColor",
    "GetShape",
    "Go",
    "If",
    "Node",
    "QuestionSyntaxError",
    "Rel",
    "Same",
    "Sel",
    "FAMILY_TEMPLATES",
    "Mismatch",
    "answers_equal",
    "check_example",
    "diff_example",
    "evaluate",
    "family_lookback",
    "lookback_from_variant",
    "parse_question",
    "template_problem",
    "to_text",
]

FIXED_SCENE_LOOKBACK = 4
_LO, _HI = 0.05, 0.95


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()
_Obj = tuple[float, float, str, str]  # (x, y, colour, shape)


def lookback_from_variant(max_memory: int) -> int:
    """The original's look-back, M = floor(3 · round(max_memory/3 + 0.01, 2)) (= max_memory for 1..15)."""
    return math.floor(3 * round(max_memory / 3 + 0.01, 2))


def family_lookback(family: str, lookback: int) -> int:
    """Look-back the original used for ``family``: 4 for the fixed-scene families, else ``lookback``."""
    return FIXED_SCENE_LOOKBACK if family in FIXED_SCENE_FAMILIES else lookback


def _frames_of(objects: Sequence[dict[str, Any]], epochs: int) -> list[list[_Obj]]:
    """Visible non-distractor objects per frame."""
    frames: list[list[_Obj]] = [[] for _ in range(epochs)]
    for obj in objects:
        if obj["is_distractor"]:
            continue
        span = obj["epochs"]
        item = (float(obj["location"][0]), float(obj["location"][1]), obj["color"], obj["shape"])
        for t in [span] if isinstance(span, int) else span:
            if 0 <= t < epochs:
                frames[t].append(item)
    return frames


def _in_region(o: _Obj, space: str, ref: tuple[float, float]) -> bool:
    ox, oy = o[0], o[1]
    rx, ry = ref
    if space == "left":
        return _LO < ox < rx and _LO < oy < _HI
    if space == "right":
        return rx < ox < _HI and _LO < oy < _HI
    if space == "top":
        return _LO < ox < _HI and _LO < oy < ry
    return _LO < ox < _HI and ry < oy < _HI  # bottom


class _Evaluator:
    def __init__(self, frames: list[list[_Obj]], lookback: int) -> None:
        self.frames = frames
        self.m = lookback

    def search_frames(self, when: str | None, t: int) -> range:
        if when == "now":
            return range(t, t - 1, -1)
        if when == "last1":
            return range(t - 1, max(0, t - 1 - self.m) - 1, -1)
        return range(t, max(0, t - self.m) - 1, -1)  # latest or no time word

    def unique(self, sel: Sel, t: int) -> Any:
        found = self.select(sel, t)
        return found[0] if found is not INVALID and len(found) == 1 else INVALID

    def select(self, sel: Sel, t: int) -> Any:
        ref = color = shape = None
        if sel.rel is not None:
            obj = self.unique(sel.rel.ref, t)
            if obj is INVALID:
                return INVALID
            ref = (obj[0], obj[1])
        if sel.color is not None:
            color = sel.color if isinstance(sel.color, str) else self.value(sel.color, t)
            if color is INVALID:
                return INVALID
        if sel.shape is not None:
            shape = sel.shape if isinstance(sel.shape, str) else self.value(sel.shape, t)
            if shape is INVALID:
                return INVALID
        for f in self.search_frames(sel.when, t):
            hits = [
                o
                for o in self.frames[f]
                if (color is None or o[2] == color)
                and (shape is None or o[3] == shape)
                and (ref is None or _in_region(o, sel.rel.space, ref))
            ]  # type: ignore[union-attr]
            if hits:
                return sorted(hits, key=lambda o: (o[0], o[1], COLOR_INDEX[o[2]], SHAPE_INDEX[o[3]]))
        return []

    def value(self, node: Node | str, t: int) -> Any:
        match node:
            case str():
                return node
            case GetColor(sel):
                obj = self.unique(sel, t)
                return INVALID if obj is INVALID else obj[2]
            case GetShape(sel):
                obj = self.unique(sel, t)
                return INVALID if obj is INVALID else obj[3]
            case Go(sel):
                obj = self.unique(sel, t)
                return INVALID if obj is INVALID else (obj[0], obj[1])
            case Exist(sel):
                found = self.select(sel, t)
                return INVALID if found is INVALID else len(found) > 0
            case Same(a, b):
                va, vb = self.value(a, t), self.value(b, t)
                return INVALID if va is INVALID or vb is INVALID else va == vb
            case And(p, q):
                if self.value(p, t) is False:
                    return False
                return self.value(q, t)  # P true or invalid: Q decides (original quirk)
            case If(cond, then, other):
                c = self.value(cond, t)
                if c is INVALID:
                    return INVALID
                return self.value(then if c else other, t)
            case Sel():
                return self.select(node, t)
        raise TypeError(f"not a COG node: {node!r}")


def _serialise(v: Any) -> str | list[float]:
    if v is INVALID:
        return "invalid"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return [v[0], v[1]]
    if isinstance(v, str):
        return v
    raise TypeError(f"a root must evaluate to a word, a boolean or a point, got {v!r}")


def evaluate(
    node: Node, objects: Sequence[dict[str, Any]], epochs: int, lookback: int
) -> list[str | list[float]]:
    """Per-frame answers of ``node`` on the official ``objects`` list, serialised like the files.

    Returns ``epochs`` entries: ``"true"``/``"false"``, a colour or shape name, ``[x, y]`` or ``"invalid"``.
    """
    ev = _Evaluator(_frames_of(objects, epochs), lookback)
    return [_serialise(ev.value(node, t)) for t in range(epochs)]


def answers_equal(stored: Any, evaluated: Any, tol: float = 1e-9) -> bool:
    """Equality of serialised answers; points compare as floats within ``tol``."""
    if isinstance(stored, list) or isinstance(evaluated, list):
        if not (
            isinstance(stored, list) and isinstance(evaluated, list) and len(stored) == len(evaluated) == 2
        ):
            return False
        return all(abs(float(a) - float(b)) < tol for a, b in zip(stored, evaluated))
    return stored == evaluated


@dataclass(frozen=True)
class Mismatch:
    """One disagreeing frame: the stored answer and the checker's."""

    frame: int
    stored: Any
    evaluated: Any

    def describe(self) -> str:
        def fmt(v: Any) -> str:
            return v if isinstance(v, str) else json.dumps(v)

        return f"frame {self.frame}: stored {fmt(self.stored)}, evaluated {fmt(self.evaluated)}"


def diff_example(example: dict[str, Any], lookback: int | None = None) -> list[Mismatch]:
    """Frames whose stored answer differs from the evaluated one.

    ``lookback`` None means the example's ``epochs`` − 1 (= M for both official variants). Raises
    :class:`QuestionSyntaxError` (a ValueError) when the question cannot be parsed.
    """
    epochs = int(example["epochs"])
    m = epochs - 1 if lookback is None else lookback
    node = parse_question(example["question"])
    got = evaluate(node, example["objects"], epochs, m)
    stored = list(example["answers"])
    stored += ["<missing>"] * (epochs - len(stored))
    return [Mismatch(t, s, g) for t, (s, g) in enumerate(zip(stored, got)) if not answers_equal(s, g)]


def check_example(example: dict[str, Any], lookback: int | None = None) -> list[int]:
    """Indices of the frames whose stored answer disagrees with the evaluation (see :func:`diff_example`)."""
    return [m.frame for m in diff_example(example, lookback)]
