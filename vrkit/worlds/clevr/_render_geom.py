"""Scene objects as arrays, analytic ray intersection (sphere, capped cylinder, yawed box), normals.

Every mesh of the original spans [-1, 1]^3 scaled by the size half-extent r and rests on the ground:
sphere of radius r, vertical cylinder of radius r and height 2r, box of half-extent r turned by the stored
``rotation`` read as *radians* about +Z (quirk Q2). A fourth shape, the upright cone of base radius r and height 2r
(apex up, its base a closed disc), is not a CLEVR shape: only worlds that build :class:`Objects` themselves use
it (the CATER-style video world, vrkit/worlds/cater). The original cube and cylinder are bevelled; here the
geometry is sharp and the bevel is suggested by rounding the shading normals near edges.
Arrays are float32; rays are (m, 3) origins ``O`` and unit directions ``D``; a miss is ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import ATTRIBUTES, COLOR_RGB, SIZE_RADIUS

CUBE, SPHERE, CYLINDER, CONE = 0, 1, 2, 3
_SHAPE_CODE = {"cube": CUBE, "sphere": SPHERE, "cylinder": CYLINDER}
#: bounding-sphere radius of each shape around its centre, in units of the half-extent r.
BOUND = {CUBE: math.sqrt(3.0), SPHERE: 1.0, CYLINDER: math.sqrt(2.0), CONE: math.sqrt(2.0)}
_CONE_K2 = 0.25  # (base radius / height)^2: the lateral surface is x^2 + y^2 = K2 (r - z)^2 in the object frame
EPS = 1e-3
_BEVEL_POW = 14.0  # larger = sharper edges of the shading-normal bevel


@dataclass
class Objects:
    """K objects: centre (K, 3), half-extent r (K,), shape code (K,), yaw cos/sin (K,), bounding radius
    (K,), linear albedo (K, 3), metal flag (K,)."""

    centre: np.ndarray
    r: np.ndarray
    shape: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    bound: np.ndarray
    albedo: np.ndarray
    metal: np.ndarray

    def __len__(self) -> int:
        return len(self.r)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def parse_objects(scene: Any) -> Objects:
    """Validate the renderable part of a scene (raises InputError) and pack it into arrays."""
    name = scene.get("image_filename", scene.get("image_index", "?")) if isinstance(scene, dict) else "?"
    where = f"scene {name!r}"
    if not isinstance(scene, dict):
        raise InputError(f"scene: expected an object, got {type(scene).__name__}")
    objs = scene.get("objects")
    if not isinstance(objs, list):
        raise InputError(f"{where}: missing or bad 'objects' list")
    rows = []
    for j, o in enumerate(objs):
        w = f"{where}.objects[{j}]"
        if not isinstance(o, dict):
            raise InputError(f"{w}: expected an object, got {type(o).__name__}")
        for attr, values in ATTRIBUTES.items():
            if o.get(attr) not in values:
                raise InputError(f"{w}: missing or unknown {attr} {o.get(attr)!r}")
        c = o.get("3d_coords")
        if not (isinstance(c, list | tuple) and len(c) == 3 and all(map(_num, c))):
            raise InputError(f"{w}: '3d_coords' must be 3 finite numbers, got {c!r}")
        rot = o.get("rotation", 0.0)
        if not _num(rot):
            raise InputError(f"{w}: 'rotation' must be a finite number, got {rot!r}")
        rows.append((o, c, float(rot)))
    k = len(rows)
    centre = np.array([[float(x) for x in c] for _, c, _ in rows], dtype=np.float32).reshape(k, 3)
    r = np.array([SIZE_RADIUS[o["size"]] for o, _, _ in rows], dtype=np.float32)
    shape = np.array([_SHAPE_CODE[o["shape"]] for o, _, _ in rows], dtype=np.int8)
    yaw = np.array([rot for _, _, rot in rows], dtype=np.float64)  # Q2: degrees value used as radians
    srgb = np.array([COLOR_RGB[o["color"]] for o, _, _ in rows], dtype=np.float32).reshape(k, 3) / 255.0
    return Objects(
        centre=centre,
        r=r,
        shape=shape,
        cos=np.cos(yaw).astype(np.float32),
        sin=np.sin(yaw).astype(np.float32),
        bound=(r * np.array([BOUND[int(s)] for s in shape], dtype=np.float32)).astype(np.float32),
        albedo=srgb,  # the renderer feeds the 0-1 colour unchanged as a linear shader colour
        metal=np.array([o["material"] == "metal" for o, _, _ in rows], dtype=bool),
    )


def intersect(objs: Objects, k: int, O: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Nearest entry distance t > EPS of rays (O (m, 3) or one shared (3,), D (m, 3)) into object k, shape
    (m,), inf on a miss."""
    c, r = objs.centre[k], float(objs.r[k])
    oc = O - c
    ox, oy, oz = oc[..., 0], oc[..., 1], oc[..., 2]
    dx, dy, dz = D[:, 0], D[:, 1], D[:, 2]
    s = int(objs.shape[k])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if s == SPHERE:
            b = ox * dx + oy * dy + oz * dz
            disc = b * b - (ox * ox + oy * oy + oz * oz - r * r)
            t = -b - np.sqrt(disc)
            return np.where((disc >= 0) & (t > EPS), t, np.inf)
        if s == CYLINDER:
            a = dx * dx + dy * dy
            b = ox * dx + oy * dy
            disc = b * b - a * (ox * ox + oy * oy - r * r)
            ts = (-b - np.sqrt(disc)) / a
            zs = oz + ts * dz
            ts = np.where((disc >= 0) & (np.abs(zs) <= r) & (ts > EPS), ts, np.inf)
            plane = np.where(dz < 0, r, -r)
            tc = (plane - oz) / dz
            xc, yc = ox + tc * dx, oy + tc * dy
            tc = np.where((xc * xc + yc * yc <= r * r) & (tc > EPS), tc, np.inf)
            return np.fmin(ts, tc)
        if s == CONE:
            return _cone(ox, oy, oz, dx, dy, dz, r)
        # box: rotate into the object frame (inverse yaw); slabs; fmin/fmax skip the NaNs of 0 * inf
        cs, sn = float(objs.cos[k]), float(objs.sin[k])
        tmin = tmax = None
        for lo, ld in ((cs * ox + sn * oy, cs * dx + sn * dy), (cs * oy - sn * ox, cs * dy - sn * dx), (oz, dz)):
            inv = 1.0 / ld
            ta = (-r - lo) * inv
            tb = (r - lo) * inv
            near, far = np.fmin(ta, tb), np.fmax(ta, tb)
            tmin = near if tmin is None else np.fmax(tmin, near)
            tmax = far if tmax is None else np.fmin(tmax, far)
        return np.where((tmax >= tmin) & (tmin > EPS), tmin, np.inf)


def _cone(ox: np.ndarray, oy: np.ndarray, oz: np.ndarray, dx: np.ndarray, dy: np.ndarray, dz: np.ndarray,
          r: float) -> np.ndarray:
    """Nearest entry t > EPS into the upright cone (base disc at z = -r, apex at z = r, object frame).
    A root of the lateral quadric counts only between the base and the apex (the other nappe is not the
    cone); NaN roots (no real solution) fail every comparison."""
    h = r - oz
    a = dx * dx + dy * dy - _CONE_K2 * dz * dz
    b = ox * dx + oy * dy + _CONE_K2 * h * dz
    root = np.sqrt(b * b - a * (ox * ox + oy * oy - _CONE_K2 * h * h))
    t1, t2 = (-b - root) / a, (-b + root) / a
    t = np.where((np.abs(oz + t1 * dz) <= r) & (t1 > EPS), t1, np.inf)
    t = np.where((np.abs(oz + t2 * dz) <= r) & (t2 > EPS) & (t2 < t), t2, t)
    tb = (-r - oz) / dz
    xb, yb = ox + tb * dx, oy + tb * dy
    return np.where((xb * xb + yb * yb <= r * r) & (tb > EPS) & (tb < t), tb, t)


def normals(objs: Objects, k: int, P: np.ndarray) -> np.ndarray:
    """Shading normals (m, 3) at points P (m, 3) on the surface of object k (bevel-rounded edges)."""
    c, r = objs.centre[k], float(objs.r[k])
    q = (P - c) / r
    s = int(objs.shape[k])
    if s == SPHERE:
        n = q
    elif s == CYLINDER:
        rho = np.sqrt(q[:, 0] ** 2 + q[:, 1] ** 2) + 1e-9
        w = np.minimum(rho, 1.0) ** _BEVEL_POW
        n = np.stack([q[:, 0] / rho * w, q[:, 1] / rho * w,
                      np.sign(q[:, 2]) * np.minimum(np.abs(q[:, 2]), 1.0) ** _BEVEL_POW], axis=-1)
    elif s == CONE:
        n = np.stack([q[:, 0], q[:, 1], _CONE_K2 * (1.0 - q[:, 2])], axis=-1)
        n[q[:, 2] < -0.999] = (0.0, 0.0, -1.0)
    else:
        cs, sn = float(objs.cos[k]), float(objs.sin[k])
        lx, ly = cs * q[:, 0] + sn * q[:, 1], -sn * q[:, 0] + cs * q[:, 1]
        loc = np.stack([lx, ly, q[:, 2]], axis=-1)
        nl = np.sign(loc) * np.minimum(np.abs(loc), 1.0) ** _BEVEL_POW
        n = np.stack([cs * nl[:, 0] - sn * nl[:, 1], sn * nl[:, 0] + cs * nl[:, 1], nl[:, 2]], axis=-1)
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


_CORNERS = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=np.float32)


def box_corners(objs: Objects, k: int, pad: float = 0.0) -> np.ndarray:
    """(8, 3) corners of the axis-aligned cube bounding object k's bounding sphere (radius + pad)."""
    return objs.centre[k] + (float(objs.bound[k]) + pad) * _CORNERS


def trace_primary(objs: Objects, cam: Any, ground: bool = True, rays: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera rays through every pixel centre: directions (H*W, 3), nearest t (H*W,) and id (H*W,) (-1 ground,
    -2 nothing). Each object is only tested inside the screen rectangle of its bounding box. ``rays``: the
    camera's ``cam.rays()`` when already at hand."""
    h, w = cam.height, cam.width
    O = cam.pos.astype(np.float32)
    D = cam.rays() if rays is None else rays
    t_best, ids = _ground(O, D, ground)
    tg, ig, Dg = t_best.reshape(h, w), ids.reshape(h, w), D.reshape(h, w, 3)
    for k in range(len(objs)):
        box = cam.screen_box(box_corners(objs, k))
        if box is None:
            continue
        y0, y1, x0, x1 = box
        t = intersect(objs, k, O, Dg[y0:y1, x0:x1].reshape(-1, 3)).reshape(y1 - y0, x1 - x0)
        tb, ib = tg[y0:y1, x0:x1], ig[y0:y1, x0:x1]
        better = t < tb
        tb[better] = t[better]
        ib[better] = k
    return D, t_best, ids


def _ground(O: np.ndarray, D: np.ndarray, ground: bool) -> tuple[np.ndarray, np.ndarray]:
    m = D.shape[0]
    t_best = np.full(m, np.inf, dtype=np.float32)
    ids = np.full(m, -2, dtype=np.int16)
    if ground:
        oz = O[2] if O.ndim == 1 else O[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = -oz / D[:, 2]
        hit = (D[:, 2] < 0) & (tg > EPS)
        t_best[hit] = tg[hit]
        ids[hit] = -1
    return t_best, ids


def candidates(objs: Objects, O: np.ndarray, D: np.ndarray, pad: np.ndarray | float = 0.0) -> np.ndarray:
    """(m, K) bool: ray may hit object k's bounding sphere (radius + ``pad``, broadcast to (m, K))."""
    if O.ndim == 1:  # one shared origin (primary rays)
        oc = objs.centre - O  # (K, 3)
        t = D @ oc.T  # (m, K)
        h2 = (oc * oc).sum(1)[None, :] - t * t
    else:
        oc = objs.centre[None, :, :] - O[:, None, :]  # (m, K, 3)
        t = np.einsum("mkc,mc->mk", oc, D)
        h2 = np.einsum("mkc,mkc->mk", oc, oc) - t * t
    rb = objs.bound[None, :] + pad
    return (h2 < rb * rb) & (t > -rb)


def trace(objs: Objects, O: np.ndarray, D: np.ndarray, skip: np.ndarray | None = None,
          ground: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of rays (O (m,3) or (3,), D (m,3)): distance t (m,) and id (m,) int16 with -1 = ground,
    -2 = nothing. ``skip`` (m,) gives an object id each ray ignores (its own surface) or -1."""
    t_best, ids = _ground(O, D, ground)
    if len(objs) == 0:
        return t_best, ids
    cand = candidates(objs, O, D)
    if skip is not None:
        cand &= skip[:, None] != np.arange(len(objs))[None, :]
    for k in range(len(objs)):
        idx = np.flatnonzero(cand[:, k])
        if idx.size == 0:
            continue
        Ok = O if O.ndim == 1 else O[idx]
        t = intersect(objs, k, Ok, D[idx])
        better = t < t_best[idx]
        sel = idx[better]
        t_best[sel] = t[better]
        ids[sel] = k
    return t_best, ids
