"""COG constants: colours, shapes, vocabularies, variants and the family table (docs/world-cog.md)."""

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
    """Frames per example (E), look-back window (max_memory), distractor cap and the compositional split of
    the colour × shape pairs (``combos``: None, "A" or "B"; :mod:`vrkit.worlds.cog.combos`)."""

    frames: int
    memory: int
    distractors: int
    combos: str | None = None

    @property
    def suffix(self) -> str:
        return f"{self.frames}_{self.memory}_{self.distractors}"

    @property
    def lookback(self) -> int:
        # Original: floor(3 * round(max_memory/3 + 0.01, 2)), which equals max_memory for 1..15.
        import math

        return math.floor(3 * round(self.memory / 3 + 0.01, 2))


VARIANTS: dict[str, Variant] = {"canonical": Variant(4, 3, 1), "hard": Variant(8, 7, 10)}


@dataclass(frozen=True)
class Family:
    """One COG task family: every fact vrkit states about it (docs/world-cog.md, 'Families').

    ``index`` is the family's position in the original generator's list (the batch's ``family`` value);
    ``answer`` is what a frame's valid answer is: ``"bool"`` (true/false), ``"color"``, ``"shape"`` or
    ``"point"`` (an [x, y] location); ``fixed_scene`` marks the five families whose scene is a fixed
    arrangement of objects over frames 1-3 instead of a scene guessed to fit the question.
    """

    name: str
    index: int
    group: str
    answer: str
    fixed_scene: bool = False

    @property
    def pointing(self) -> bool:
        return self.answer == "point"


def _records(group: str, answer: str, *entries: tuple[int, str] | tuple[int, str, bool]) -> list[Family]:
    return [Family(e[1], e[0], group, answer, *e[2:]) for e in entries]


#: The 44 families, group by group (the five reasoning-transfer groups of Jayram et al., 2019, Transfer
#: learning in visual and relational reasoning, section 5.2, then vrkit's five groups of the pointing
#: families), each group in its reporting order.
FAMILY_TABLE: tuple[Family, ...] = tuple(
    _records("Basic", "bool", (9, "ExistColor"), (10, "ExistShape"))
    + _records("Basic", "color", (5, "GetColor"))
    + _records("Basic", "shape", (6, "GetShape"))
    + _records("Basic", "bool", (11, "Exist"))
    + _records("Obj-Attr", "bool", (32, "SimpleCompareColor"), (33, "SimpleCompareShape"),
               (34, "AndSimpleCompareColor"), (35, "AndSimpleCompareShape"))
    + _records("Compare", "bool", (36, "CompareColor"), (37, "CompareShape"), (38, "AndCompareColor"),
               (39, "AndCompareShape"), (19, "ExistColorOf"), (18, "ExistShapeOf"))
    + _records("Spatial", "bool", (14, "ExistSpace"), (12, "ExistColorSpace"), (13, "ExistShapeSpace"))
    + _records("Spatial", "color", (7, "GetColorSpace"))
    + _records("Spatial", "shape", (8, "GetShapeSpace"))
    + _records("Cognitive", "bool", (21, "ExistLastColorSameShape", True), (20, "ExistLastShapeSameColor", True),
               (22, "ExistLastObjectSameObject", True))
    + _records("Point-Basic", "point", (0, "GoColor"), (1, "GoShape"), (2, "Go"))
    + _records("Point-Cognitive", "point", (3, "GoColorOf", True), (4, "GoShapeOf", True))
    + _records("Point-Conditional", "point", (23, "SimpleExistColorGo"), (24, "SimpleExistShapeGo"),
               (25, "SimpleExistGo"), (26, "AndSimpleExistColorGo"), (27, "AndSimpleExistShapeGo"),
               (28, "AndSimpleExistGo"), (29, "ExistColorGo"), (30, "ExistShapeGo"), (31, "ExistGo"))
    + _records("Point-Spatial", "point", (15, "ExistColorSpaceGo"), (16, "ExistShapeSpaceGo"), (17, "ExistSpaceGo"))
    + _records("Point-Compare", "point", (40, "SimpleCompareColorGo"), (41, "SimpleCompareShapeGo"),
               (42, "CompareColorGo"), (43, "CompareShapeGo"))
)
FAMILY_RECORDS: dict[str, Family] = {r.name: r for r in sorted(FAMILY_TABLE, key=lambda r: r.index)}
# Everything below is derived from FAMILY_TABLE.
FAMILIES: tuple[str, ...] = tuple(FAMILY_RECORDS)
FAMILY_INDEX = {f: i for i, f in enumerate(FAMILIES)}
FIXED_SCENE_FAMILIES = frozenset(r.name for r in FAMILY_TABLE if r.fixed_scene)
# Families whose answers are points ([x, y]); the other 23 answer with words.
POINTING_FAMILIES = frozenset(r.name for r in FAMILY_TABLE if r.pointing)
CLASSIFICATION_FAMILIES: tuple[str, ...] = tuple(f for f in FAMILIES if f not in POINTING_FAMILIES)
GROUPS: dict[str, tuple[str, ...]] = {}
for _r in FAMILY_TABLE:
    GROUPS[_r.group] = (*GROUPS.get(_r.group, ()), _r.name)
del _r
assert [FAMILY_RECORDS[f].index for f in FAMILIES] == list(range(44))
assert len(POINTING_FAMILIES) == 21 and len(CLASSIFICATION_FAMILIES) == 23 and len(FIXED_SCENE_FAMILIES) == 5


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
