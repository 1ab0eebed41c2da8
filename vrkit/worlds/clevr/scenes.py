"""Symbolic CLEVR scene sampling (docs/world-clevr.md, 'Scenes'), deterministic from a numpy Generator.

A scene is the official scene dict plus one extra key, ``render``: the jittered world positions
``{"camera", "lamp_key", "lamp_fill", "lamp_back": [x, y, z]}`` that the renderer (``render.py``) reads,
so the visibility check, ``pixel_coords`` and the image all use the same camera;
:func:`strip_render_keys` removes it for byte-compatible official files. ``pixel_coords`` are left as
``[0, 0, 0.0]`` unless the ``visibility_fn`` hook fills them in (see :func:`render_visibility_hook`).

The visibility hook ``visibility_fn(scene) -> bool`` is called once all objects are placed (with the
relationships already computed); returning False discards all objects and restarts placement with the
same object count, exactly like the original minimum-visible-pixels check.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vrkit.worlds.clevr.constants import (
    CAMERA_JITTER,
    CAMERA_LOCATION,
    COGENT,
    COLORS,
    CONDITIONS,
    DIRECTIONS,
    LAMP_BACK,
    LAMP_FILL,
    LAMP_JITTER,
    LAMP_KEY,
    MARGIN,
    MATERIALS,
    MAX_OBJECTS,
    MAX_RETRIES,
    MIN_DIST,
    MIN_OBJECTS,
    PLACEMENT_RANGE,
    RELATION_EPS,
    SHAPES,
    SIZE_RADIUS,
)

VisibilityFn = Callable[[dict], bool]
RENDER_KEYS = ("render",)
_SIZES_DRAW = ("large", "small")  # properties-file order; only the draw order depends on it


def _margin_dirs(directions: dict[str, list[float]]) -> list[tuple[float, float]]:
    return [(directions[d][0], directions[d][1]) for d in ("left", "right", "front", "behind")]


_MARGIN_DIRS = _margin_dirs(DIRECTIONS)


def directions_for_camera(camera: tuple[float, float, float] | list[float]) -> dict[str, list[float]]:
    """The six direction vectors seen from a camera aimed at the origin with a level horizon: *behind* =
    viewing direction projected on the ground, *left* = the camera's -X axis, *above* = +Z. For the base
    camera this gives the released constants (up to float32 rounding)."""
    cx, cy = float(camera[0]), float(camera[1])
    norm = (cx * cx + cy * cy) ** 0.5
    bx, by = -cx / norm, -cy / norm  # behind
    rx, ry = by, -bx  # right = forward x up, projected
    return {"behind": [bx, by, 0.0], "front": [-bx, -by, -0.0], "left": [-rx, -ry, 0.0],
            "right": [rx, ry, -0.0], "above": [0.0, 0.0, 1.0], "below": [-0.0, -0.0, -1.0]}


def _check_condition(condition: str) -> None:
    if condition not in CONDITIONS:
        raise ValueError(f"unknown CoGenT condition {condition!r}; expected one of {CONDITIONS}")


def placement_ok(x: float, y: float, r: float, placed: list[tuple[float, float, float]],
                 margin_dirs: list[tuple[float, float]] = _MARGIN_DIRS) -> bool:
    """The min_dist and margin rules of a candidate (x, y, r) against placed (xx, yy, rr)."""
    for xx, yy, rr in placed:
        dx, dy = x - xx, y - yy
        if (dx * dx + dy * dy) ** 0.5 - r - rr < MIN_DIST:
            return False
        for ux, uy in margin_dirs:
            m = dx * ux + dy * uy
            if 0 < m < MARGIN:
                return False
    return True


def _sample_shape_color(rng: np.random.Generator, condition: str) -> tuple[str, str]:
    if condition == "unrestricted":
        return SHAPES[rng.integers(3)], COLORS[rng.integers(8)]
    table = COGENT[condition]
    shape = tuple(table)[rng.integers(3)]
    allowed = table[shape]
    return shape, allowed[rng.integers(len(allowed))]


def place_objects(rng: np.random.Generator, n_objects: int, condition: str = "unrestricted",
                  directions: dict[str, list[float]] | None = None) -> tuple[list[dict], int]:
    """Place ``n_objects`` objects; returns (objects, number of whole-scene restarts caused by placement).

    Each object gets up to MAX_RETRIES (50) position draws; one more failure discards the whole scene."""
    _check_condition(condition)
    margin_dirs = _MARGIN_DIRS if directions is None else _margin_dirs(directions)
    restarts = 0
    while True:
        objects: list[dict] = []
        placed: list[tuple[float, float, float]] = []
        failed = False
        for _ in range(n_objects):
            size = _SIZES_DRAW[rng.integers(2)]
            r = SIZE_RADIUS[size]
            for _attempt in range(MAX_RETRIES + 1):
                x, y = rng.uniform(-PLACEMENT_RANGE, PLACEMENT_RANGE, size=2)
                x, y = float(x), float(y)
                if placement_ok(x, y, r, placed, margin_dirs):
                    break
            else:
                failed = True
                break
            shape, color = _sample_shape_color(rng, condition)
            rotation = 360.0 * float(rng.random())
            material = MATERIALS[rng.integers(2)]
            placed.append((x, y, r))
            objects.append({"shape": shape, "color": color, "material": material, "size": size,
                            "3d_coords": [x, y, r], "rotation": rotation, "pixel_coords": [0, 0, 0.0]})
        if not failed:
            return objects, restarts
        restarts += 1


def compute_relationships(
    objects: list[dict], eps: float = RELATION_EPS, directions: dict[str, list[float]] | None = None
) -> dict[str, list[list[int]]]:
    """``rel[r][i]`` = ascending ids j != i with (p_j - p_i) . d_r > eps (object j is r of object i).

    ``directions`` defaults to the released constant vectors."""
    directions = DIRECTIONS if directions is None else directions
    pos = np.array([o["3d_coords"][:2] for o in objects], dtype=np.float64).reshape(-1, 2)
    out: dict[str, list[list[int]]] = {}
    for r in ("behind", "front", "left", "right"):
        d = np.array(directions[r][:2], dtype=np.float64)
        proj = pos @ d  # (N,)
        diff = proj[None, :] - proj[:, None]  # diff[i, j] = (p_j - p_i) . d
        n = len(objects)
        out[r] = [[j for j in range(n) if j != i and diff[i, j] > eps] for i in range(n)]
    return out


def _jitter(rng: np.random.Generator, base: tuple[float, float, float], lim: float) -> list[float]:
    d = rng.uniform(-lim, lim, size=3)
    return [base[0] + float(d[0]), base[1] + float(d[1]), base[2] + float(d[2])]


def render_visibility_hook(width: int = 480, height: int = 320, min_pixels: int | None = None,
                           fill_pixel_coords: bool = True) -> VisibilityFn:
    """A ``visibility_fn`` backed by the numpy renderer: the minimum-visible-pixels rule (200 px
    at 480 x 320, scaled with the pixel count at other sizes unless ``min_pixels`` is given); on
    acceptance it also fills every object's ``pixel_coords``."""
    from vrkit.worlds.clevr import render  # lazy: the symbolic generator does not need the renderer

    if min_pixels is None:
        min_pixels = max(1, round(200 * width * height / (480 * 320)))

    def hook(scene: dict) -> bool:
        if not render.check_visibility(scene, min_pixels, width, height):
            return False
        if fill_pixel_coords:
            for obj, pc in zip(scene["objects"], render.pixel_coords(scene, width, height)):
                obj["pixel_coords"] = pc
        return True

    return hook


def sample_scene(
    rng: np.random.Generator,
    *,
    image_index: int = 0,
    split: str = "new",
    condition: str = "unrestricted",
    n_objects: int | None = None,
    jittered_directions: bool = False,
    visibility_fn: VisibilityFn | None = None,
    prefix: str = "CLEVR",
    max_restarts: int = 10_000,
) -> dict:
    """One scene in the official format (plus ``render``: jittered camera and lamp positions).

    ``condition`` is ``"unrestricted"``, ``"A"`` or ``"B"`` (CoGenT). ``jittered_directions`` = True takes
    the left/right/front/behind axes (placement margins and relationships) from the jittered camera
    instead of the released constants (quirk Q1 fixed). ``visibility_fn`` = None skips the
    visibility check. Raises RuntimeError after ``max_restarts`` rejected placements (never happens for
    the default object counts)."""
    _check_condition(condition)
    if n_objects is None:
        n_objects = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
    render = {"camera": _jitter(rng, CAMERA_LOCATION, CAMERA_JITTER)}
    for name, base in (("lamp_key", LAMP_KEY), ("lamp_back", LAMP_BACK), ("lamp_fill", LAMP_FILL)):
        render[name] = _jitter(rng, base, LAMP_JITTER)
    # quirk Q1: the original reads the axes before the jitter takes effect, so they are constant
    directions = directions_for_camera(render["camera"]) if jittered_directions else DIRECTIONS
    restarts = 0
    while True:
        objects, placement_restarts = place_objects(rng, n_objects, condition, directions)
        restarts += placement_restarts
        scene = {
            "split": split,
            "image_index": image_index,
            "image_filename": f"{prefix}_{split}_{image_index:06d}.png",
            "objects": objects,
            "directions": {k: list(v) for k, v in directions.items()},
            "relationships": compute_relationships(objects, directions=directions),
            "render": {k: list(v) for k, v in render.items()},
        }
        if visibility_fn is None or visibility_fn(scene):
            return scene
        restarts += 1
        if restarts > max_restarts:
            raise RuntimeError(f"no acceptable placement after {max_restarts} restarts")


def scene_rng(seed: int, image_index: int) -> np.random.Generator:
    """The Generator of one scene, from (seed, index): independent of how scenes are split over workers."""
    return np.random.default_rng([seed, image_index])


def generate_scenes(
    seed: int, num: int, *, start: int = 0, split: str = "new", condition: str = "unrestricted",
    visibility_fn: VisibilityFn | None = None, jittered_directions: bool = False,
) -> list[dict]:
    """Scenes ``start .. start+num-1``, each seeded from (seed, image_index)."""
    return [
        sample_scene(scene_rng(seed, i), image_index=i, split=split, condition=condition,
                     visibility_fn=visibility_fn, jittered_directions=jittered_directions)
        for i in range(start, start + num)
    ]


def strip_render_keys(scene: dict) -> dict:
    """A shallow copy without the renderer-only keys (the official 6-key scene)."""
    return {k: v for k, v in scene.items() if k not in RENDER_KEYS}


