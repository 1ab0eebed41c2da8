"""Camera and light placement for the CLEVR renderer (docs/world-clevr.md, 'Scenes').

The camera and the three area lights always aim at the world origin ("track-to"), with the camera's
horizon level (+Y of the camera towards world +Z). Lens 35 mm on a 32 mm sensor fitted to the longer image
side. Per-image jitter: U(-0.5, 0.5) per axis for the camera, then U(-1, 1) per axis for the key, back and
fill lamps, in that order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import CAMERA_JITTER, CAMERA_LOCATION, LAMP_JITTER

LAMP_KEY: tuple[float, float, float] = (6.4467, -2.9052, 4.2584)
LAMP_FILL: tuple[float, float, float] = (-4.6711, -4.0136, 3.0112)
LAMP_BACK: tuple[float, float, float] = (-1.1685, 2.6460, 5.8157)
#: tan of half the field of view along the sensor-fitted (longer) side: 16 mm / 35 mm.
TAN_HALF_FOV = 16.0 / 35.0
#: Scene key under which a generator may store the (jittered) camera and lamp positions.
RENDER_KEY = "render"
_LAMPS = ("lamp_key", "lamp_fill", "lamp_back")


@dataclass(frozen=True)
class RenderParams:
    """World positions of the camera and the three area lamps (all aimed at the origin)."""

    camera: tuple[float, float, float] = CAMERA_LOCATION
    lamp_key: tuple[float, float, float] = LAMP_KEY
    lamp_fill: tuple[float, float, float] = LAMP_FILL
    lamp_back: tuple[float, float, float] = LAMP_BACK

    def to_json(self) -> dict[str, list[float]]:
        """The form stored under ``scene["render"]``."""
        return {k: [float(v) for v in getattr(self, k)] for k in ("camera", *_LAMPS)}

    @classmethod
    def from_json(cls, d: Any, where: str = "render") -> RenderParams:
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected an object with camera/lamp positions")
        vals = {}
        for k in ("camera", *_LAMPS):
            if k not in d:
                continue
            v = d[k]
            ok = isinstance(v, list | tuple) and len(v) == 3
            if not ok or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
                raise InputError(f"{where}.{k}: must be 3 numbers, got {v!r}")
            if not np.all(np.isfinite(v)):
                raise InputError(f"{where}.{k}: must be finite, got {v!r}")
            vals[k] = tuple(float(x) for x in v)
        for k, v in vals.items():
            if float(np.linalg.norm(v)) < 1.0:
                raise InputError(f"{where}.{k}: too close to the origin it aims at, got {list(v)!r}")
        return cls(**vals)


def sample_render_params(rng: np.random.Generator) -> RenderParams:
    """Draw the per-image jitter (camera ±0.5, then key, back, fill lamps ±1.0 per axis)."""
    def jit(base: tuple[float, float, float], lim: float) -> tuple[float, float, float]:
        d = rng.uniform(-lim, lim, size=3)
        return (base[0] + float(d[0]), base[1] + float(d[1]), base[2] + float(d[2]))

    cam = jit(CAMERA_LOCATION, CAMERA_JITTER)
    key = jit(LAMP_KEY, LAMP_JITTER)
    back = jit(LAMP_BACK, LAMP_JITTER)
    fill = jit(LAMP_FILL, LAMP_JITTER)
    return RenderParams(camera=cam, lamp_key=key, lamp_fill=fill, lamp_back=back)


def scene_render_params(scene: dict, rng: np.random.Generator | None = None) -> RenderParams:
    """Camera/lamps of a scene: ``scene["render"]`` if stored, else jitter drawn from ``rng``, else the
    camera fitted to the objects' stored ``pixel_coords`` (released scenes; lamps stay at their base
    positions), else the un-jittered base placement."""
    if isinstance(scene, dict) and RENDER_KEY in scene:
        return RenderParams.from_json(scene[RENDER_KEY])
    if rng is not None:
        return sample_render_params(rng)
    cam = fit_camera_to_pixel_coords(scene)
    return RenderParams() if cam is None else RenderParams(camera=cam)


def fit_camera_to_pixel_coords(scene: Any, width: int = 480, height: int = 320
                               ) -> tuple[float, float, float] | None:
    """Camera position whose projection of the objects' ``3d_coords`` best matches their stored
    ``pixel_coords`` at ``width`` x ``height`` (Gauss-Newton from the base camera, 3 unknowns).

    None when the scene carries no usable pixel coordinates (all zero, as in engine-only scenes), or when
    the fit is poor (RMS > 1.5 px) or lands outside the jitter range (> 0.6 per axis from the base)."""
    objs = scene.get("objects") if isinstance(scene, dict) else None
    if not isinstance(objs, list) or not objs:
        return None
    pts, pix = [], []
    for o in objs:
        c, p = o.get("3d_coords"), o.get("pixel_coords") if isinstance(o, dict) else None
        ok = isinstance(p, list | tuple) and len(p) == 3 and isinstance(c, list | tuple) and len(c) == 3
        if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (*c, *p)):
            return None
        pts.append(c)
        pix.append(p)
    P, Q = np.asarray(pts, dtype=np.float64), np.asarray(pix, dtype=np.float64)
    if not np.all(np.isfinite(P)) or not np.all(np.isfinite(Q)) or np.all(Q[:, 2] <= 0):
        return None
    base = np.asarray(CAMERA_LOCATION, dtype=np.float64)
    weight = np.array([1.0, 1.0, 30.0])  # depth errors in world units vs pixel errors

    def resid(pos: np.ndarray) -> np.ndarray:
        return ((Camera.make(tuple(pos), width, height).project(P) - Q) * weight).ravel()

    pos = base.copy()
    for _ in range(8):
        r = resid(pos)
        J = np.stack([(resid(pos + e) - r) / 1e-5 for e in np.eye(3) * 1e-5], axis=1)
        step, *_ = np.linalg.lstsq(J, -r, rcond=None)
        pos = pos + step
        if np.abs(step).max() < 1e-7:
            break
    rms = float(np.sqrt(np.mean((Camera.make(tuple(pos), width, height).project(P) - Q)[:, :2] ** 2)))
    if rms > 1.5 or np.abs(pos - base).max() > 0.6:
        return None
    return (float(pos[0]), float(pos[1]), float(pos[2]))


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at ``pos`` looking at the origin; ``width`` x ``height`` pixels."""

    pos: np.ndarray  # (3,)
    right: np.ndarray  # (3,)
    up: np.ndarray  # (3,)
    forward: np.ndarray  # (3,)
    width: int
    height: int
    tan_x: float
    tan_y: float

    @classmethod
    def make(cls, pos: tuple[float, float, float], width: int, height: int,
             aspect: float | None = None) -> Camera:
        """``aspect`` (frame width / height) defaults to width / height; e.g. 1.5 on a 128 x 128 grid gives
        the 480 x 320 frame squeezed into square pixels, as a resized released image."""
        p = np.asarray(pos, dtype=np.float64)
        f = -p / np.linalg.norm(p)
        r = np.cross(f, [0.0, 0.0, 1.0])
        if np.linalg.norm(r) < 1e-9:  # looking straight down: any level horizon
            r = np.array([1.0, 0.0, 0.0])
        r /= np.linalg.norm(r)
        u = np.cross(r, f)
        a = width / height if aspect is None else float(aspect)
        if a >= 1.0:
            tx, ty = TAN_HALF_FOV, TAN_HALF_FOV / a
        else:
            tx, ty = TAN_HALF_FOV * a, TAN_HALF_FOV
        return cls(p, r, u, f, int(width), int(height), tx, ty)

    def rays(self, sub: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
        """Unit ray directions through every pixel (at offset ``sub`` inside it), shape (H*W, 3) float32,
        row-major from the top-left pixel."""
        w, h = self.width, self.height
        xs = (2.0 * (np.arange(w) + sub[0]) / w - 1.0) * self.tan_x
        ys = (1.0 - 2.0 * (np.arange(h) + sub[1]) / h) * self.tan_y
        d = (self.forward[None, None, :] + xs[None, :, None] * self.right[None, None, :]
             + ys[:, None, None] * self.up[None, None, :])
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return d.reshape(-1, 3).astype(np.float32)

    def rays_at(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Unit ray directions through continuous pixel positions (x right, y down), shape (m, 3) float32."""
        xs = (2.0 * px / self.width - 1.0) * self.tan_x
        ys = (1.0 - 2.0 * py / self.height) * self.tan_y
        d = self.forward[None, :] + xs[:, None] * self.right[None, :] + ys[:, None] * self.up[None, :]
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return d.astype(np.float32)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (n, 3) -> (n, 3) float64 of continuous (u*W, H - v*H, depth along the view axis)."""
        v = np.asarray(points, dtype=np.float64) - self.pos
        depth = v @ self.forward
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        u = 0.5 + (v @ self.right) / (safe * 2.0 * self.tan_x)
        vv = 0.5 + (v @ self.up) / (safe * 2.0 * self.tan_y)
        return np.stack([u * self.width, self.height - vv * self.height, depth], axis=-1)

    def screen_box(self, points: np.ndarray) -> tuple[int, int, int, int] | None:
        """Pixel rectangle (y0, y1, x0, x1), end-exclusive and clipped, covering the projection of world
        points (n, 3) plus one pixel; the whole image if a point is behind the camera; None if off-screen."""
        pr = self.project(points)
        if np.any(pr[:, 2] < 0.05):
            return 0, self.height, 0, self.width
        x0 = max(int(np.floor(pr[:, 0].min())) - 1, 0)
        x1 = min(int(np.ceil(pr[:, 0].max())) + 1, self.width)
        y0 = max(int(np.floor(pr[:, 1].min())) - 1, 0)
        y1 = min(int(np.ceil(pr[:, 1].max())) + 1, self.height)
        if x0 >= x1 or y0 >= y1:
            return None
        return y0, y1, x0, x1


@functools.lru_cache(maxsize=32)
def camera_with_rays(pos: tuple[float, float, float], width: int, height: int,
                     aspect: float | None = None) -> tuple[Camera, np.ndarray]:
    """``Camera.make(...)`` and its pixel-centre rays, remembered for the last few cameras (a video's fixed
    camera renders many frames). The rays are read-only."""
    cam = Camera.make(pos, width, height, aspect)
    rays = cam.rays()
    rays.flags.writeable = False
    return cam, rays


def directions_from_camera(pos: tuple[float, float, float] = CAMERA_LOCATION) -> dict[str, list[float]]:
    """The six direction vectors derived from a camera at ``pos`` aimed at the origin (Q1: pass the
    un-jittered base camera, the default, to reproduce released files)."""
    cam = Camera.make(pos, 2, 1)
    behind = cam.forward.copy()
    behind[2] = 0.0
    behind /= np.linalg.norm(behind)
    left = -cam.right.copy()
    left[2] = 0.0
    left /= np.linalg.norm(left)
    b, lf = [float(x) for x in behind], [float(x) for x in left]
    return {
        "behind": b,
        "front": [-x for x in b],
        "left": lf,
        "right": [-x for x in lf],
        "above": [0.0, 0.0, 1.0],
        "below": [-0.0, -0.0, -1.0],
    }
