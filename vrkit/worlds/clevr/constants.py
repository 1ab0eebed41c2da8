"""CLEVR vocabulary and fixed numbers (docs/world-clevr.md).

Value orders are the canonical orders of the original engine metadata; they also fix the order in which
filter nodes are emitted (size → color → material → shape).
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder")
COLORS: tuple[str, ...] = ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
MATERIALS: tuple[str, ...] = ("rubber", "metal")
SIZES: tuple[str, ...] = ("small", "large")
RELATIONS: tuple[str, ...] = ("left", "right", "behind", "front")

#: attribute name -> its values (filter-node order: size, color, material, shape).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "size": SIZES,
    "color": COLORS,
    "material": MATERIALS,
    "shape": SHAPES,
}
ATTRIBUTE_ORDER: tuple[str, ...] = ("size", "color", "material", "shape")

#: colour name -> sRGB 0-255 as used by the original renderer.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}
#: size name -> half-extent in world units (the object centre sits at z = half-extent).
SIZE_RADIUS: dict[str, float] = {"large": 0.7, "small": 0.35}
SHAPE_ASSET: dict[str, str] = {"cube": "SmoothCube_v2", "sphere": "Sphere", "cylinder": "SmoothCylinder"}
MATERIAL_ASSET: dict[str, str] = {"rubber": "Rubber", "metal": "MyMetal"}

#: CoGenT conditions: shape -> allowed colours. "unrestricted" (None) allows every colour for every shape.
COGENT: dict[str, dict[str, tuple[str, ...]]] = {
    "A": {
        "cube": ("gray", "blue", "brown", "yellow"),
        "cylinder": ("red", "green", "purple", "cyan"),
        "sphere": COLORS,
    },
    "B": {
        "cube": ("red", "green", "purple", "cyan"),
        "cylinder": ("gray", "blue", "brown", "yellow"),
        "sphere": COLORS,
    },
}
CONDITIONS: tuple[str, ...] = ("unrestricted", "A", "B")

#: Direction vectors of every released scene (quirk Q1: from the un-jittered camera).
DIRECTIONS: dict[str, list[float]] = {
    "behind": [-0.754490315914154, 0.6563112735748291, 0.0],
    "front": [0.754490315914154, -0.6563112735748291, -0.0],
    "left": [-0.6563112735748291, -0.7544902563095093, 0.0],
    "right": [0.6563112735748291, 0.7544902563095093, -0.0],
    "above": [0.0, 0.0, 1.0],
    "below": [-0.0, -0.0, -1.0],
}

# Camera and placement numbers (docs/world-clevr.md, 'Scenes').
CAMERA_LOCATION: tuple[float, float, float] = (7.481131553649902, -6.5076398849487305, 5.34366512298584)
LAMP_KEY: tuple[float, float, float] = (6.4467, -2.9052, 4.2584)
LAMP_FILL: tuple[float, float, float] = (-4.6711, -4.0136, 3.0112)
LAMP_BACK: tuple[float, float, float] = (-1.1685, 2.6460, 5.8157)
CAMERA_JITTER: float = 0.5
LAMP_JITTER: float = 1.0
MIN_OBJECTS: int = 3
MAX_OBJECTS: int = 10
MIN_DIST: float = 0.25
MARGIN: float = 0.4
MAX_RETRIES: int = 50
RELATION_EPS: float = 0.2
MIN_PIXELS_PER_OBJECT: int = 200
PLACEMENT_RANGE: float = 3.0
IMAGE_WIDTH: int = 480
IMAGE_HEIGHT: int = 320

#: The 28 answers.
ANSWERS: tuple[str, ...] = (
    ("yes", "no") + tuple(str(i) for i in range(11)) + COLORS + SHAPES + MATERIALS + SIZES
)

DEFAULT_LICENSE = "Creative Commons Attribution (CC-BY 4.0)"

#: Question reporting types (docs/world-clevr.md, 'Answers and question types') keyed by the program's last function.
QUESTION_TYPES: tuple[str, ...] = (
    "exist", "count", "compare_integer", "query_attribute", "compare_attribute"
)
_TYPE_OF_LAST = {
    "exist": "exist",
    "count": "count",
    "equal_integer": "compare_integer",
    "less_than": "compare_integer",
    "greater_than": "compare_integer",
}
for _a in ATTRIBUTE_ORDER:
    _TYPE_OF_LAST[f"query_{_a}"] = "query_attribute"
    _TYPE_OF_LAST[f"equal_{_a}"] = "compare_attribute"


def question_type(last_function: str) -> str:
    """Reporting type of a question from its program's last function name (KeyError if none applies)."""
    return _TYPE_OF_LAST[last_function]


#: Template files in global family order (docs/world-clevr.md, 'Family numbering'): file stem -> (offset,
#: number of templates).
TEMPLATE_FILES: dict[str, tuple[int, int]] = {
    "compare_integer": (0, 9),
    "comparison": (9, 16),
    "three_hop": (25, 6),
    "single_and": (31, 5),
    "same_relate": (36, 28),
    "single_or": (64, 8),
    "one_hop": (72, 6),
    "two_hop": (78, 6),
    "zero_hop": (84, 6),
}
NUM_FAMILIES: int = 90
