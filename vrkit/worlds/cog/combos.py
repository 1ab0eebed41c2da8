"""Compositional splits of COG (CoGenT's idea for COG): held-out colour × shape combinations.

Johnson et al. (2017, CLEVR) test compositional generalisation with CoGenT: condition A pairs some colours
with cubes and others with cylinders, condition B swaps them. vrkit's COG split does the same over all
21 × 32 colour × shape pairs, with a fixed partition that alternates over the pair grid like a chessboard:

* condition **A**: every object's pair has an even ``colour index + shape index`` (``constants.COLORS`` and
  ``constants.SHAPES`` order), e.g. (red, circle), (red, cross), (green, square);
* condition **B**: the odd pairs, e.g. (red, square), (green, circle).

Every colour appears in both conditions (with 16 shapes each) and so does every shape (with 10 or 11 colours),
so a model trained on A has seen every word and every attribute value — only their combinations in one object
are new in B. A and B are disjoint and together cover all 672 pairs.

The generator applies a split to every object of a scene (targets and distractors, every family): free
attributes are drawn among the split's partners, and an example whose question forces a pair of the other
half (e.g. "exist red square" in A) is drawn again from the same random stream (so split generation is about
2.5x slower: 1,600 instead of 3,800 canonical examples/s on one core, 340 instead of 910 hard). A split is part of a
:class:`~vrkit.worlds.cog.constants.Variant` (``combos``) and has a name: ``canonical-A``, ``hard-B`` ...
(``data.variant`` of a training recipe, ``vrkit generate cog --split-combos A``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from vrkit.worlds.cog.constants import COLOR_INDEX, COLORS, SHAPE_INDEX, SHAPES, VARIANTS, Variant

COMBO_SPLITS: tuple[str, ...] = ("A", "B")
PARITY: dict[str, int] = {"A": 0, "B": 1}
RULE = "A: (colour index + shape index) even; B: odd"


def in_split(color: str, shape: str, split: str) -> bool:
    """Whether the pair (``color``, ``shape``) belongs to condition ``split``."""
    return (COLOR_INDEX[color] + SHAPE_INDEX[shape]) % 2 == PARITY[split]


def split_pairs(split: str) -> list[tuple[str, str]]:
    """Every (colour, shape) pair of condition ``split``, colour-major."""
    return [(c, s) for c in COLORS for s in SHAPES if in_split(c, s, split)]


SHAPES_WITH: dict[str, dict[str, tuple[str, ...]]] = {
    k: {c: tuple(s for s in SHAPES if in_split(c, s, k)) for c in COLORS} for k in COMBO_SPLITS}
COLORS_WITH: dict[str, dict[str, tuple[str, ...]]] = {
    k: {s: tuple(c for c in COLORS if in_split(c, s, k)) for s in SHAPES} for k in COMBO_SPLITS}


def outside(objects: Iterable[dict], split: str) -> list[tuple[str, str]]:
    """The (colour, shape) pairs of official object dicts that do not belong to ``split``."""
    return [(o["color"], o["shape"]) for o in objects if not in_split(o["color"], o["shape"], split)]


def variant_names() -> list[str]:
    """Every variant name: the base variants, then each with each split (``canonical-A`` ...)."""
    return [*VARIANTS, *(f"{v}-{k}" for v in VARIANTS for k in COMBO_SPLITS)]


def variant_named(name: str) -> Variant:
    """The :class:`Variant` of a name (``canonical``, ``hard``, ``canonical-A``, ``hard-B`` ...); ValueError
    for an unknown name."""
    base, sep, split = name.partition("-")
    if base in VARIANTS and (split in COMBO_SPLITS if sep else True):
        return replace(VARIANTS[base], combos=split or None)
    raise ValueError(f"unknown COG variant {name!r}; expected one of {', '.join(variant_names())}")
