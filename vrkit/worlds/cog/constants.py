"""COG constants: colours, shapes, vocabularies, variants (cog-spec.md §1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COLORS: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "purple", "orange", "cyan", "magenta", "lime", "pink", "teal",
    "lavender", "brown", "beige", "maroon", "mint", "olive", "coral", "navy", "grey", "white",
)
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 75), "green": (60, 180, 75), "blue": (0, 130, 200), "yellow": (255, 225, 25),
    "purple": (145, 30, 180), "orange": (245, 130, 48), "cyan": (70, 240, 240), "magenta": (240, 50, 230),
    "lime": (210, 245, 60), "pink": (250, 190, 190), "teal": (0, 128, 128), "lavender": (230, 190, 255),
    "brown": (170, 110, 40), "beige": (255, 250, 200), "maroon": (128, 0, 0), "mint": (170, 255, 195),
    "olive": (128, 128, 0), "coral": (255, 215, 180), "navy": (0, 0, 128), "grey": (128, 128, 128),
    "white": (255, 255, 255),
}
SHAPES: tuple[str, ...] = ("circle", "square", "cross", "triangle", "vbar", "hbar") + tuple(
    chr(c) for c in range(ord("a"), ord("z") + 1)
)
SPACES: tuple[str, ...] = ("left", "right", "top", "bottom")
OPPOSITE: dict[str, str] = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
TIME_WORDS: tuple[str, ...] = ("now", "latest", "last1")

COLOR_INDEX = {c: i for i, c in enumerate(COLORS)}
SHAPE_INDEX = {s: i for i, s in enumerate(SHAPES)}

# Input vocabulary: 79 tokens, index = position; 0 doubles as padding.
INPUT_VOCAB: tuple[str, ...] = (
    ("invalid", ".", ",", "?", "object", "color", "shape", "loc", "on", "if", "then", "else",
     "exist", "equal", "and", "the", "of", "with", "point")
    + SPACES + COLORS + SHAPES + TIME_WORDS
)
INPUT_INDEX = {w: i for i, w in enumerate(INPUT_VOCAB)}
# Output vocabulary: 55 classes ("invalid" is not a class; those frames are masked).
OUTPUT_VOCAB: tuple[str, ...] = ("true", "false") + COLORS + SHAPES
OUTPUT_INDEX = {w: i for i, w in enumerate(OUTPUT_VOCAB)}
MAX_QUESTION_TOKENS = 25

assert len(COLORS) == 21 and len(SHAPES) == 32
assert len(INPUT_VOCAB) == 79 and len(OUTPUT_VOCAB) == 55


@dataclass(frozen=True)
class Variant:
    """Frames per example (E), look-back window (max_memory) and distractor cap."""

    frames: int
    memory: int
    distractors: int

    @property
    def suffix(self) -> str:
        return f"{self.frames}_{self.memory}_{self.distractors}"

    @property
    def lookback(self) -> int:
        # Original: floor(3 * round(max_memory/3 + 0.01, 2)), which equals max_memory for 1..15.
        import math

        return math.floor(3 * round(self.memory / 3 + 0.01, 2))


VARIANTS: dict[str, Variant] = {"canonical": Variant(4, 3, 1), "hard": Variant(8, 7, 10)}

FAMILIES: tuple[str, ...] = (
    "GoColor", "GoShape", "Go", "GoColorOf", "GoShapeOf", "GetColor", "GetShape", "GetColorSpace",
    "GetShapeSpace", "ExistColor", "ExistShape", "Exist", "ExistColorSpace", "ExistShapeSpace",
    "ExistSpace", "ExistColorSpaceGo", "ExistShapeSpaceGo", "ExistSpaceGo", "ExistShapeOf",
    "ExistColorOf", "ExistLastShapeSameColor", "ExistLastColorSameShape", "ExistLastObjectSameObject",
    "SimpleExistColorGo", "SimpleExistShapeGo", "SimpleExistGo", "AndSimpleExistColorGo",
    "AndSimpleExistShapeGo", "AndSimpleExistGo", "ExistColorGo", "ExistShapeGo", "ExistGo",
    "SimpleCompareColor", "SimpleCompareShape", "AndSimpleCompareColor", "AndSimpleCompareShape",
    "CompareColor", "CompareShape", "AndCompareColor", "AndCompareShape", "SimpleCompareColorGo",
    "SimpleCompareShapeGo", "CompareColorGo", "CompareShapeGo",
)
FAMILY_INDEX = {f: i for i, f in enumerate(FAMILIES)}
FIXED_SCENE_FAMILIES = frozenset(
    {"GoColorOf", "GoShapeOf", "ExistLastShapeSameColor", "ExistLastColorSameShape", "ExistLastObjectSameObject"}
)
# Families whose answers are points ([x, y]); the other 23 answer with words.
POINTING_FAMILIES = frozenset(f for f in FAMILIES if f.startswith("Go") or f.endswith("Go"))
CLASSIFICATION_FAMILIES: tuple[str, ...] = tuple(f for f in FAMILIES if f not in POINTING_FAMILIES)
assert len(FAMILIES) == 44 and len(POINTING_FAMILIES) == 21 and len(CLASSIFICATION_FAMILIES) == 23

# Reasoning-transfer groups (transfer.md §3); pointing groups are our choice (documented in docs).
GROUPS: dict[str, tuple[str, ...]] = {
    "Basic": ("ExistColor", "ExistShape", "GetColor", "GetShape", "Exist"),
    "Obj-Attr": ("SimpleCompareColor", "SimpleCompareShape", "AndSimpleCompareColor", "AndSimpleCompareShape"),
    "Compare": ("CompareColor", "CompareShape", "AndCompareColor", "AndCompareShape", "ExistColorOf",
                "ExistShapeOf"),
    "Spatial": ("ExistSpace", "ExistColorSpace", "ExistShapeSpace", "GetColorSpace", "GetShapeSpace"),
    "Cognitive": ("ExistLastColorSameShape", "ExistLastShapeSameColor", "ExistLastObjectSameObject"),
    "Point-Basic": ("GoColor", "GoShape", "Go"),
    "Point-Cognitive": ("GoColorOf", "GoShapeOf"),
    "Point-Conditional": ("SimpleExistColorGo", "SimpleExistShapeGo", "SimpleExistGo", "AndSimpleExistColorGo",
                          "AndSimpleExistShapeGo", "AndSimpleExistGo", "ExistColorGo", "ExistShapeGo", "ExistGo"),
    "Point-Spatial": ("ExistColorSpaceGo", "ExistShapeSpaceGo", "ExistSpaceGo"),
    "Point-Compare": ("SimpleCompareColorGo", "SimpleCompareShapeGo", "CompareColorGo", "CompareShapeGo"),
}
assert sorted(f for g in GROUPS.values() for f in g) == sorted(FAMILIES)


def resolve_families(spec: str | Sequence[str] | None) -> list[str]:
    """Family names from ``"all"``, ``"classification"``, ``"pointing"``, a group name or a list of names/groups."""
    if spec is None or spec == "all":
        return list(FAMILIES)
    if spec == "classification":
        return list(CLASSIFICATION_FAMILIES)
    if spec == "pointing":
        return [f for f in FAMILIES if f in POINTING_FAMILIES]
    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for name in items:
        if name in GROUPS:
            out.extend(f for f in GROUPS[name] if f not in out)
        elif name in FAMILY_INDEX:
            if name not in out:
                out.append(name)
        else:
            raise ValueError(f"unknown COG family or group {name!r}")
    if not out:
        raise ValueError("families must not be empty")
    return out
