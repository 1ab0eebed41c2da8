"""A fast CLEVR renderer in numpy: analytic ray casting of the scene (docs/world-clevr.md, 'Rendering').

Public API (all pure numpy, deterministic):

- ``render_scene(scene, width=128, height=128, rng=None)`` -> (H, W, 3) uint8 image.
- ``render_objects(objs, params, width, height)`` -> (image, id buffer) of pre-built object arrays
  (``Objects``; shape codes ``CUBE``, ``SPHERE``, ``CYLINDER``, ``CONE``; ``BOUND`` their bounding radii).
- ``render_ids(scene, width, height)`` -> (H, W) int16 object-id buffer (-1 = background), the flat pass
  of the visibility check (docs/world-clevr.md, 'Scenes'): one ray per pixel centre, no anti-aliasing.
- ``visible_pixel_counts`` / ``check_visibility`` -> the original's "≥ 200 pixels per object" rule.
- ``pixel_coords(scene, width, height)`` -> per object ``[px, py, depth]`` as in released scenes.
- ``camera_directions()`` -> the six direction vectors (quirk Q1: from the un-jittered camera).
- ``sample_render_params(rng)`` -> jittered camera/lamp positions, storable as ``scene["render"]``.

Camera and lamps come from ``scene["render"]`` when present (``RenderParams.to_json()`` form), else from
jitter drawn with ``rng``, else (released scenes) the camera fitted to the stored ``pixel_coords``
(``fit_camera_to_pixel_coords``; lamps at base), else the un-jittered base placement. A scene generator
should draw the params once, store them in the scene, and use the same scene for the visibility check,
``pixel_coords`` and the image, so that all three agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.worlds.clevr._render_camera import (
    RENDER_KEY,
    Camera,
    RenderParams,
    camera_with_rays,
    directions_from_camera,
    fit_camera_to_pixel_coords,
    sample_render_params,
    scene_render_params,
)
from vrkit.worlds.clevr._render_geom import (
    BOUND,
    CONE,
    CUBE,
    CYLINDER,
    SPHERE,
    Objects,
    parse_objects,
    trace,
    trace_primary,
)
from vrkit.worlds.clevr._render_shade import make_lamps, shade, to_srgb8
from vrkit.worlds.clevr.constants import IMAGE_HEIGHT, IMAGE_WIDTH, MIN_PIXELS_PER_OBJECT

__all__ = [
    "BOUND",
    "CONE",
    "CUBE",
    "CYLINDER",
    "Objects",
    "RENDER_KEY",
    "SPHERE",
    "RenderParams",
    "camera_directions",
    "check_visibility",
    "fit_camera_to_pixel_coords",
    "pixel_coords",
    "render_ids",
    "render_objects",
    "render_scene",
    "sample_render_params",
    "visible_pixel_counts",
]

#: Sub-pixel offsets used to re-shade object edges (adaptive 4x supersampling).
_SUBPIXELS = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))


def _check_size(width: Any, height: Any) -> tuple[int, int]:
    ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (width, height))
    if not ok or not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise InputError(f"image size must be two integers in 1..8192, got {width!r} x {height!r}")
    return int(width), int(height)


def _aspect(aspect: Any) -> float | None:
    if aspect is None:
        return None
    ok = isinstance(aspect, int | float) and not isinstance(aspect, bool) and 0.05 <= aspect <= 20
    if not ok:
        raise InputError(f"aspect must be a number in 0.05..20 (frame width / height), got {aspect!r}")
    return float(aspect)


def _params(scene: Any, rng: np.random.Generator | None, params: RenderParams | None) -> RenderParams:
    return params if params is not None else scene_render_params(scene, rng)


def render_scene(scene: dict, width: int = 128, height: int = 128, rng: np.random.Generator | None = None,
                 *, params: RenderParams | None = None, antialias: bool = True, quality: int = 1,
                 aspect: float | None = None) -> np.ndarray:
    """Render a scene (official scene dict) to an (H, W, 3) uint8 RGB image.

    Camera/lamps: ``params`` if given, else ``scene["render"]``, else jitter from ``rng``, else the base
    placement. ``antialias`` smooths object edges (4 sub-pixel rays there); ``quality`` 2 doubles the
    soft-shadow samples and adds the fill lamp's shadow; 0 is a draft with one hard key-lamp shadow.
    ``aspect`` (frame width / height) defaults to width / height (what Blender renders at that size);
    ``aspect=1.5`` at 128 x 128 gives the released 480 x 320 frame squeezed to a square, like a resized
    released image. Raises InputError on a malformed scene, size or aspect.
    """
    w, h = _check_size(width, height)
    objs = parse_objects(scene)
    p = _params(scene, rng, params)
    return render_objects(objs, p, w, h, antialias=antialias, quality=quality, aspect=_aspect(aspect))[0]


def render_objects(objs: Objects, params: RenderParams, width: int, height: int, *, antialias: bool = True,
                   quality: int = 1, aspect: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The renderer below :func:`render_scene`, for worlds that build :class:`Objects` themselves (no scene
    dict to validate; e.g. the cone of the CATER-style world). Returns the (H, W, 3) uint8 image and the
    (H, W) int16 id buffer of the pixel centres (object index; -1 ground, -2 nothing), as traced for it."""
    cam, rays = camera_with_rays(params.camera, width, height, aspect)
    lamps = make_lamps(params, quality)
    O = cam.pos.astype(np.float32)
    D, t, ids = trace_primary(objs, cam, rays=rays)
    rgb = shade(objs, lamps, O, D, t, ids, cam, quality)
    rgb = rgb.reshape(height, width, 3)
    ids = ids.reshape(height, width)
    if antialias and len(objs):
        _antialias(objs, cam, O, ids, rgb)
    return to_srgb8(rgb), ids


_NEIGHBOURS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def _antialias(objs: Any, cam: Camera, O: np.ndarray, ids: np.ndarray, rgb: np.ndarray) -> None:
    """Adaptive 4x supersampling of silhouette edges, in place on ``rgb`` (H, W, 3) linear.

    Only the *ids* of 4 sub-pixel rays are traced; each sub-sample takes the colour of the nearest pixel
    (itself, then 4-, then 8-neighbours) whose centre sees the same surface, so edges get coverage-weighted
    colours without re-shading."""
    h, w = ids.shape
    edge = np.zeros((h, w), dtype=bool)
    dx = ids[:, 1:] != ids[:, :-1]
    dy = ids[1:, :] != ids[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    ey, ex = np.nonzero(edge)
    if ey.size == 0:
        return
    pid = np.pad(ids, 1, constant_values=-3)
    prgb = np.pad(rgb, ((1, 1), (1, 1), (0, 0)))
    flat = (ey + 1) * (w + 2) + (ex + 1)  # in the padded image; one gather for all 9 neighbours
    near = flat[:, None] + np.array([a * (w + 2) + b for a, b in _NEIGHBOURS])[None, :]
    nid = pid.ravel()[near]  # (n, 9)
    ncol = prgb.reshape(-1, 3)[near]  # (n, 9, 3)
    acc = np.zeros((ey.size, 3), dtype=np.float32)
    rows = np.arange(ey.size)
    rays = np.concatenate([cam.rays_at(ex + ox, ey + oy) for ox, oy in _SUBPIXELS])
    _, sids = trace(objs, O, rays)  # the 4 sub-pixel sets in one pass (each ray is traced on its own)
    for sid in np.split(sids, len(_SUBPIXELS)):
        match = nid == sid[:, None]
        first = np.where(match.any(1), match.argmax(1), 0)
        acc += ncol[rows, first]
    rgb[ey, ex] = acc / len(_SUBPIXELS)


def render_ids(scene: dict, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT,
               rng: np.random.Generator | None = None, *, params: RenderParams | None = None,
               aspect: float | None = None) -> np.ndarray:
    """Object-id buffer (H, W) int16: the index of the object seen through each pixel centre, -1 where the
    ground/background is seen (flat pass of the visibility check, no anti-aliasing)."""
    w, h = _check_size(width, height)
    objs = parse_objects(scene)
    cam = Camera.make(_params(scene, rng, params).camera, w, h, _aspect(aspect))
    _, _, ids = trace_primary(objs, cam, ground=False)
    ids = np.where(ids < 0, -1, ids).astype(np.int16)
    return ids.reshape(h, w)


def visible_pixel_counts(scene: dict, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT,
                         rng: np.random.Generator | None = None, *,
                         params: RenderParams | None = None, aspect: float | None = None) -> list[int]:
    """Visible pixels per object (list of K ints, in object order) at ``width`` x ``height``."""
    ids = render_ids(scene, width, height, rng, params=params, aspect=aspect)
    k = len(scene["objects"])
    return [int(c) for c in np.bincount(ids[ids >= 0].ravel(), minlength=k)[:k]]


def check_visibility(scene: dict, min_pixels: int = MIN_PIXELS_PER_OBJECT, width: int = IMAGE_WIDTH,
                     height: int = IMAGE_HEIGHT, rng: np.random.Generator | None = None, *,
                     params: RenderParams | None = None, aspect: float | None = None) -> bool:
    """The original acceptance rule: every object, and the background, covers >= ``min_pixels``
    pixels (200 at 480 x 320 in the original; scale it with the pixel count at other sizes)."""
    ids = render_ids(scene, width, height, rng, params=params, aspect=aspect)
    k = len(scene["objects"])
    counts = np.bincount(ids.ravel() + 1, minlength=k + 1)
    return bool(np.all(counts[: k + 1] >= min_pixels))


def pixel_coords(scene: dict, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT,
                 rng: np.random.Generator | None = None, *,
                 params: RenderParams | None = None, aspect: float | None = None) -> list[list[float]]:
    """Projected object centres ``[px, py, depth]`` per object: px = round(u W), py = round(H - v H)
    (ties to even, origin top-left), depth = distance along the camera's viewing axis in world units."""
    w, h = _check_size(width, height)
    objs = parse_objects(scene)
    cam = Camera.make(_params(scene, rng, params).camera, w, h, _aspect(aspect))
    centres = np.array([[float(c) for c in o["3d_coords"]] for o in scene["objects"]], dtype=np.float64)
    if len(objs) == 0:
        return []
    proj = cam.project(centres.reshape(-1, 3))
    return [[int(round(float(x))), int(round(float(y))), float(d)] for x, y, d in proj]


def camera_directions(params: RenderParams | None = None) -> dict[str, list[float]]:
    """The scene ``directions`` dict. Default (and what released files show, quirk Q1): from the
    un-jittered base camera. Pass ``params`` only to derive them from another camera."""
    return directions_from_camera((params or RenderParams()).camera)
