"""Question templates of the 44 COG families as token patterns (docs/world-cog.md, 'Families'; token counts
as in the original's statistics).

Pattern tokens:

* ``C`` / ``S`` — any colour / shape, unconstrained (an independent constant or a free draw);
* ``C1``, ``C2``, … / ``S1``, … — named colour / shape slots: the same name must hold the same word, different
  names of one kind must hold **different** words ("C1..C4 distinct", "S1≠S2");
* ``P1``, ``P2``, … — a named (colour, shape) pair, two tokens; different names must be different pairs
  (pairs may still share a colour or a shape);
* ``W`` any time word, ``SP`` any spatial word; every other token must match literally
  (so the fixed time words of the fixed-scene families and of the Exist/If selections are checked too).

A repeated slot encodes a shared node (e.g. SimpleExistColorGo's then-branch is the Exist selection).
Hidden draws (GoColorOf's S3, the fixed-scene objects) are not in the question and are not checked.
"""

from __future__ import annotations

import re

from vrkit.worlds.cog.constants import COLOR_INDEX, SHAPE_INDEX, SPACES, TIME_WORDS

_IF = "if {} , then point {} , else point {} ."
FAMILY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "GoColor": ("point W C object",),
    "GoShape": ("point W S",),
    "Go": ("point W C S",),
    "GoColorOf": ("point now S2 with color of latest S1",),
    "GoShapeOf": ("point now C2 object with shape of latest C1 object",),
    "GetColor": ("color of W S ?",),
    "GetShape": ("shape of W C object ?",),
    "GetColorSpace": ("color of W S2 on SP of W S1 ?",),
    "GetShapeSpace": ("shape of W C2 object on SP of W C1 object ?",),
    "ExistColor": ("now C object exist ?",),
    "ExistShape": ("now S exist ?",),
    "Exist": ("now C S exist ?",),
    "ExistColorSpace": ("now C2 object on SP of W C1 object exist ?",),
    "ExistShapeSpace": ("now S2 on SP of W S1 exist ?",),
    "ExistSpace": ("now P2 on SP of W P1 exist ?",),
    "ExistColorSpaceGo": (_IF.format("now C2 object on SP of W C1 object exist", "C3 object", "C4 object"),),
    "ExistShapeSpaceGo": (_IF.format("now S2 on SP of W S1 exist", "S3", "S4"),),
    "ExistSpaceGo": (_IF.format("now P2 on SP of W P1 exist", "P3", "P4"),),
    "ExistShapeOf": ("now C2 object with shape of W C1 object exist ?",),
    "ExistColorOf": ("now S2 with color of W S1 exist ?",),
    "ExistLastShapeSameColor": ("last1 S1 with color of now S1 exist ?",),
    "ExistLastColorSameShape": ("last1 C1 object with shape of now C1 object exist ?",),
    "ExistLastObjectSameObject": (
        "last1 object with color of now object and with shape of now object exist ?",
    ),
    "SimpleExistColorGo": (_IF.format("now C1 object exist", "now C1 object", "W C2 object"),),
    "SimpleExistShapeGo": (_IF.format("now S1 exist", "now S1", "W S2"),),
    "SimpleExistGo": (_IF.format("now P1 exist", "now P1", "W P2"),),
    "AndSimpleExistColorGo": (
        _IF.format("now C1 object exist and now C2 object exist", "now C1 object", "W C3 object"),
    ),
    "AndSimpleExistShapeGo": (_IF.format("now S1 exist and now S2 exist", "now S1", "W S3"),),
    "AndSimpleExistGo": (_IF.format("now P1 exist", "now P1", "W P2"),),  # wired to SimpleExistGo (a quirk)
    "ExistColorGo": (_IF.format("now C1 object exist", "W C2 object", "W C3 object"),),
    "ExistShapeGo": (_IF.format("now S1 exist", "W S2", "W S3"),),
    "ExistGo": (_IF.format("now P1 exist", "W P2", "W P3"),),
    "SimpleCompareColor": ("C equal color of W S ?", "color of W S equal C ?"),
    "SimpleCompareShape": ("S equal shape of W C object ?", "shape of W C object equal S ?"),
    "AndSimpleCompareColor": ("color of W S1 equal C and color of W S2 equal C ?",),
    "AndSimpleCompareShape": ("shape of W C1 object equal S and shape of W C2 object equal S ?",),
    "CompareColor": ("color of W S1 equal color of W S2 ?",),
    "CompareShape": ("shape of W C1 object equal shape of W C2 object ?",),
    "AndCompareColor": ("color of W S1 equal color of W S2 and color of W S3 equal color of W S4 ?",),
    "AndCompareShape": (
        "shape of W C1 object equal shape of W C2 object and "
        "shape of W C3 object equal shape of W C4 object ?",
    ),
    "SimpleCompareColorGo": (
        _IF.format("C equal color of W S1", "C1 S2", "C2 S2"),
        _IF.format("color of W S1 equal C", "C1 S2", "C2 S2"),
    ),
    "SimpleCompareShapeGo": (
        _IF.format("S equal shape of W C1 object", "C2 S1", "C2 S2"),
        _IF.format("shape of W C1 object equal S", "C2 S1", "C2 S2"),
    ),
    "CompareColorGo": (_IF.format("color of W S1 equal color of W S2", "C1 S3", "C2 S3"),),
    "CompareShapeGo": (_IF.format("shape of W C1 object equal shape of W C2 object", "C3 S1", "C3 S2"),),
}

_CLASSES = {"C": COLOR_INDEX, "S": SHAPE_INDEX, "W": frozenset(TIME_WORDS), "SP": frozenset(SPACES)}
_NAMED = re.compile(r"^([CSP])(\d)$")


def _match(pattern: str, tokens: list[str]) -> str | None:
    """None if ``tokens`` fit ``pattern``, else why not."""
    pat = pattern.split(" ")
    width = sum(2 if p.startswith("P") else 1 for p in pat)
    if width != len(tokens):
        return f"{len(tokens)} tokens, template has {width}"
    bound: dict[str, object] = {}
    i = 0
    for p in pat:
        named = _NAMED.match(p)
        kind = named.group(1) if named else p
        if kind == "P":
            value: object = (tokens[i], tokens[i + 1])
            ok = tokens[i] in COLOR_INDEX and tokens[i + 1] in SHAPE_INDEX
            i += 2
        else:
            value = tokens[i]
            ok = tokens[i] in _CLASSES[kind] if kind in _CLASSES else tokens[i] == p
            i += 1
        if not ok:
            return f"token {i - 1} {value!r} does not fit {p!r}"
        if named:
            if p in bound and bound[p] != value:
                return f"slot {p} holds both {bound[p]!r} and {value!r}"
            clash = [q for q, v in bound.items() if q != p and q[0] == p[0] and v == value]
            if clash:
                return f"slots {clash[0]} and {p} must differ but both hold {value!r}"
            bound[p] = value
    return None


def template_problem(question: str, family: str) -> str | None:
    """None if ``question`` fits one of ``family``'s templates, else a one-line description."""
    pats = FAMILY_TEMPLATES.get(family)
    if pats is None:
        return f"unknown family {family!r}"
    tokens = question.split(" ")
    problems = [_match(p, tokens) for p in pats]
    if None in problems:
        return None
    return f"question does not fit the {family} template {pats[0]!r} ({problems[0]})"
