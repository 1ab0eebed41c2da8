"""COG shape geometry (docs/world-cog.md, 'Rendering') and the per-size sprite table of the fast renderer.

:func:`draw_shape` is the single place where a shape is drawn with OpenCV; the reference renderer calls it
on every object, the fast renderer calls it once per (shape, size) on a scratch canvas and keeps the pixel
offsets (a "sprite"). OpenCV's non-anti-aliased drawing with integer coordinates is translation invariant
away from the canvas edge, so stamping a sprite there reproduces the drawn pixels exactly. Near the edge
OpenCV's clipping changes the rasterisation (polygon edges and thick-line bodies are re-stepped from the
clipped row: a triangle, 'v', 'w', 'y'... gain or lose pixels), so the fast renderer draws objects whose
sprite comes within ``EDGE_GUARD`` pixels of the edge with :func:`draw_shape` itself. Measured over
every centre in [-m, S+m)², m = 0.1·S + 14, at S = 112 and 224 with OpenCV 4.14: outside that band every
shape is invariant (the only deviation inside it is 'w' touching column 0, distance 0).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from vrkit.errors import InputError
from vrkit.worlds.cog.constants import COLOR_RGB, COLORS, SHAPES

EDGE_GUARD = 2  # objects whose sprite box is closer than this to an edge are drawn with OpenCV
MIN_SIZE = 50  # below this the cross thickness floor(0.02 S) is 0, which OpenCV refuses

# Draw-order ranks: objects sort by (x, y, colour name, shape name), i.e. by the names as strings.
COLOR_RANK = np.array([sorted(COLORS).index(c) for c in COLORS], dtype=np.int64)
SHAPE_RANK = np.array([sorted(SHAPES).index(s) for s in SHAPES], dtype=np.int64)
# (21, 3) uint8 RGB in vocabulary order.
COLOR_TABLE = np.array([COLOR_RGB[c] for c in COLORS], dtype=np.uint8)


def check_size(size: int) -> int:
    """Return ``size`` as an int, or raise :class:`InputError` if the renderer cannot draw at it."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < MIN_SIZE:
        raise InputError(f"image size must be an integer >= {MIN_SIZE}, got {size!r}")
    return int(size)


def draw_shape(canvas: np.ndarray, shape: str, cx: int, cy: int, color: tuple[float, float, float],
               size: int) -> None:
    """Draw a filled ``shape`` centred on pixel (col ``cx``, row ``cy``) into ``canvas`` (H, W, 3), in place.

    The original renderer's geometry for an S = ``size`` canvas; letters do not scale with S.
    """
    r = int(0.05 * size)
    if shape == "circle":
        cv2.circle(canvas, (cx, cy), r, color, -1)
    elif shape == "square":
        cv2.rectangle(canvas, (cx - r, cy - r), (cx + r, cy + r), color, -1)
    elif shape == "cross":
        t = int(0.02 * size)
        cv2.line(canvas, (cx - r, cy), (cx + r, cy), color, t)
        cv2.line(canvas, (cx, cy - r), (cx, cy + r), color, t)
    elif shape == "triangle":
        top, half, low = int(0.08 * size), int(0.069 * size), int(0.04 * size)
        pts = np.array([[cx, cy - top], [cx - half, cy + low], [cx + half, cy + low]], dtype=np.int32)
        cv2.fillConvexPoly(canvas, pts, color)
    elif shape in ("vbar", "hbar"):
        short, long_ = int(0.5 * r), int(1.2 * r)
        hw, hh = (short, long_) if shape == "vbar" else (long_, short)
        cv2.rectangle(canvas, (cx - hw, cy - hh), (cx + hw, cy + hh), color, -1)
    else:
        cv2.putText(canvas, shape, (cx - 3, cy + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 2)


@dataclass(frozen=True)
class SpriteTable:
    """Pixel offsets of every shape at one canvas size, padded to a common length P.

    ``dy``, ``dx``: (32, P) int64 offsets from the centre pixel (shape order of ``SHAPES``);
    ``valid``: (32, P) bool, False on padding; ``count``: (32,) pixels per shape;
    ``lo``, ``hi``: (32, 2) int64 smallest / largest (dy, dx) offset of each shape (its bounding box);
    ``flat_padded``: (32, P) int64 offsets dy·S + dx into a flattened S×S frame (0 on padding),
    ``flat_padded32`` the same as int32;
    ``masks``: per shape an (h, w, 1) bool mask of its bounding box, whose top-left is offset ``lo``.
    """

    size: int
    dy: np.ndarray
    dx: np.ndarray
    valid: np.ndarray
    count: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    flat_padded: np.ndarray
    flat_padded32: np.ndarray
    masks: tuple[np.ndarray, ...]


@functools.lru_cache(maxsize=16)
def sprite_table(size: int) -> SpriteTable:
    """Draw every shape once on a scratch canvas with :func:`draw_shape` and record its pixels."""
    size = check_size(size)
    margin = int(0.1 * size) + 24  # larger than any shape's reach (0.08 S + caps; letters reach 11 px)
    side = 2 * margin + 1
    offsets = []
    for shape in SHAPES:
        scratch = np.zeros((side, side, 3), dtype=np.float32)
        draw_shape(scratch, shape, margin, margin, (1.0, 1.0, 1.0), size)
        mask = scratch[..., 0] > 0
        if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():  # pragma: no cover
            raise AssertionError(f"sprite of {shape!r} at size {size} reaches the scratch border")
        rows, cols = np.nonzero(mask)
        offsets.append((rows - margin, cols - margin))
    count = np.array([len(r) for r, _ in offsets], dtype=np.int64)
    P = int(count.max())
    dy = np.zeros((len(SHAPES), P), dtype=np.int64)
    dx = np.zeros((len(SHAPES), P), dtype=np.int64)
    valid = np.zeros((len(SHAPES), P), dtype=bool)
    for k, (r, c) in enumerate(offsets):
        dy[k, : len(r)], dx[k, : len(c)], valid[k, : len(r)] = r, c, True
    lo = np.array([[r.min(), c.min()] for r, c in offsets], dtype=np.int64)
    hi = np.array([[r.max(), c.max()] for r, c in offsets], dtype=np.int64)
    flat_padded = dy * size + dx
    masks = []
    for k, (r, c) in enumerate(offsets):
        m = np.zeros((hi[k, 0] - lo[k, 0] + 1, hi[k, 1] - lo[k, 1] + 1, 1), dtype=bool)
        m[r - lo[k, 0], c - lo[k, 1], 0] = True
        masks.append(m)
    flat_padded32 = flat_padded.astype(np.int32)
    for a in (dy, dx, valid, count, lo, hi, flat_padded, flat_padded32, *masks):
        a.setflags(write=False)
    return SpriteTable(size, dy, dx, valid, count, lo, hi, flat_padded, flat_padded32, tuple(masks))
