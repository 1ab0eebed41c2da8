"""CATER-style world vocabulary and fixed numbers (docs/world-cater.md).

Objects are CLEVR's (vrkit/worlds/clevr/constants.py: colours, materials, the small/large half-extents) plus
upright cones and one small golden metal "snitch" (a sphere here; the CATER snitch is a winged ball). The
floor is CLEVR's [-3, 3] x [-3, 3] area, cut into a 6 x 6 grid of unit cells for snitch localisation as in
CATER (Girdhar & Ramanan, ICLR 2020; rohitgirdhar/CATER ``generate/gen_train_test.py``, ``localize_dataset``).
"""

from __future__ import annotations

from vrkit.worlds.clevr.constants import COLORS, MATERIALS, SIZE_RADIUS, SIZES

SNITCH = "snitch"
CONE = "cone"
#: shapes of the objects besides the snitch (the snitch is always object 0).
SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder", CONE)
ALL_SHAPES: tuple[str, ...] = (SNITCH, *SHAPES)
SNITCH_COLOR = "gold"
SNITCH_RGB: tuple[int, int, int] = (255, 215, 0)
SNITCH_RADIUS = 0.2
COLORS_ALL: tuple[str, ...] = (*COLORS, SNITCH_COLOR)

#: the actions, in label order.
ACTIONS: tuple[str, ...] = ("slide", "pick_place", "rotate", "contain")
#: (shape, action) pairs an object of that shape can perform, in label order. Rotation is a turn about the
#: vertical axis, which only a cube shows (the other shapes are symmetric about it); only cones contain.
ACTION_PAIRS: tuple[tuple[str, str], ...] = (
    (SNITCH, "slide"), (SNITCH, "pick_place"),
    ("sphere", "slide"), ("sphere", "pick_place"),
    ("cylinder", "slide"), ("cylinder", "pick_place"),
    ("cube", "slide"), ("cube", "pick_place"), ("cube", "rotate"),
    (CONE, "slide"), (CONE, "pick_place"), (CONE, "contain"),
)
#: the atomic-action labels ("<shape>_<action>"), multi-hot in :attr:`Video.actions`.
ACTION_LABELS: tuple[str, ...] = tuple(f"{s}_{a}" for s, a in ACTION_PAIRS)

#: half-extent (world units) of each size; the snitch has its own.
RADIUS: dict[str, float] = dict(SIZE_RADIUS)
#: shapes a cone can cover (a cube or cylinder never fits under a cone).
CONTAINABLE: tuple[str, ...] = (SNITCH, "sphere", CONE)
#: a ball of radius s fits under an upright cone of base radius R and height 2R when s <= R / FIT_RATIO
#: (the distance from the ball's centre to the slanted side is (2R - s) / sqrt(5)).
FIT_RATIO = (1.0 + 5.0 ** 0.5) / 2.0

FLOOR = 3.0  # the floor grid spans [-FLOOR, FLOOR] on x and y
GRID = 6
N_CELLS = GRID * GRID
PLACE = 2.8  # initial positions and move targets are drawn in [-PLACE, PLACE]^2
GAP = 0.15  # least free space between two objects' footprints
LIFT = 1.5  # how high pick-place lifts an object's base (clears the tallest object, 1.4)
SUBSTEPS = 4  # collision checks per frame interval

__all__ = [
    "ACTIONS", "ACTION_LABELS", "ACTION_PAIRS", "ALL_SHAPES", "COLORS", "COLORS_ALL", "CONE", "CONTAINABLE",
    "FIT_RATIO", "FLOOR", "GAP", "GRID", "LIFT", "MATERIALS", "N_CELLS", "PLACE", "RADIUS", "SHAPES", "SIZES",
    "SNITCH", "SNITCH_COLOR", "SNITCH_RADIUS", "SNITCH_RGB", "SUBSTEPS",
]
