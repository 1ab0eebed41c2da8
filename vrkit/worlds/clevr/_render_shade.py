"""Lighting and materials for the CLEVR renderer: three soft area lamps aimed at the origin plus a weak sun,
soft shadows (a few samples per lamp), ambient light with contact darkening, matte rubber (Lambert with a
faint broad gloss) and metal (tinted mirror reflection of the scene with Fresnel and sharp highlights).

All colours are linear RGB float32; ``to_srgb8`` applies the sRGB transfer curve. Intensities are tuned by
eye to look like the original Cycles renders (which we cannot reproduce exactly: no path tracing here).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from vrkit.worlds.clevr._render_camera import Camera, RenderParams
from vrkit.worlds.clevr._render_geom import EPS, Objects, intersect, normals, trace

GROUND_ALBEDO = np.float32(0.42)
AMBIENT = np.array([0.09, 0.09, 0.097], dtype=np.float32)
def env(D: np.ndarray) -> np.ndarray:
    """Radiance (m, 1) of escaping rays (m, 3): the dimly lit backdrop sweep near the horizon, black above."""
    up = np.clip(D[:, 2:3], 0.0, 1.0)
    return np.float32(0.015) + np.float32(0.12) * (1.0 - up) ** 2


def _sun_direction() -> np.ndarray:
    ax, ay, az = (math.radians(a) for a in (13.523, 23.885, 5.562))
    v = np.array([0.0, 0.0, -1.0])  # a sun shines along its local -Z; Blender XYZ Euler = Rz Ry Rx
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    d = rz @ ry @ rx @ v
    return (-d / np.linalg.norm(d)).astype(np.float32)  # towards the sun


SUN_DIR = _sun_direction()


@dataclass(frozen=True)
class Lamp:
    pos: np.ndarray  # (3,) world position, the lamp faces the origin
    color: np.ndarray  # (3,) linear colour x intensity
    half: float  # half the side of the square emitter
    samples: int  # shadow samples


def make_lamps(p: RenderParams, quality: int = 1) -> list[Lamp]:
    """Key (warm, strongest), fill (cool), back (white) lamps. ``quality`` 1: 4/0/2 shadow samples (the
    fill lamp's shadow, ~8 % darkening, is skipped); 2: 8/4/4; 0 (draft, for many small frames): one hard
    shadow of the key lamp only (1/0/0)."""
    q = min(max(0, int(quality)), 2)  # shadow samples per lamp must stay <= 8
    samples = (1, 0, 0) if q == 0 else (4 * q, 4 * (q - 1), 2 * q)
    return [
        Lamp(np.array(p.lamp_key, np.float32), np.array([1.0, 0.932, 0.817], np.float32) * 40.0, 0.25, samples[0]),
        Lamp(np.array(p.lamp_fill, np.float32), np.array([0.762, 0.818, 1.0], np.float32) * 5.0, 0.25, samples[1]),
        Lamp(np.array(p.lamp_back, np.float32), np.array([1.0, 1.0, 1.0], np.float32) * 6.0, 0.5, samples[2]),
    ]


SUN_COLOR = np.array([1.0, 1.0, 1.0], np.float32) * 0.08


def _sample_offsets(lamp: Lamp) -> np.ndarray:
    """(S, 3) points on the square emitter (stratified, fixed), in world coordinates around the centre."""
    return _offsets(tuple(float(v) for v in lamp.pos), lamp.half, lamp.samples)


@functools.lru_cache(maxsize=64)
def _offsets(pos: tuple[float, float, float], half: float, samples: int) -> np.ndarray:
    lamp = Lamp(np.array(pos, np.float32), np.zeros(3, np.float32), half, samples)
    axis = -lamp.pos / np.linalg.norm(lamp.pos)
    u = np.cross(axis, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    v = np.cross(u, axis)
    s = lamp.samples
    n = int(math.ceil(math.sqrt(s)))
    grid = [((i + 0.5) / n * 2 - 1, (j + 0.5) / n * 2 - 1) for j in range(n) for i in range(n)][:s]
    if s == 2:
        grid = [(-0.5, -0.5), (0.5, 0.5)]
    out = np.array([lamp.half * (a * u + b * v) for a, b in grid], dtype=np.float32)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Screen:
    """Where the shaded points come from: the camera and, per pixel (H, W), the row of the point in the
    arrays being shaded (-1 if that pixel is not shaded). Lets shadows test objects only near their shadow."""

    cam: Camera
    rows: np.ndarray  # (H, W) int32
    pix: np.ndarray  # (m,) flat pixel index of each shaded row
    interleave: bool = True  # one shadow sample per pixel (2x2 pattern) + same-surface 3x3 average


_PHI = np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
_RING = np.stack([np.cos(_PHI), np.sin(_PHI)], axis=1) / math.cos(math.pi / 16)  # circumscribes the circle


def _shadow_boxes(objs: Objects, lamp_pos: np.ndarray, pad: float, cam: Camera
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each object can cast a shadow from the lamp onto points with z >= 0: inside the truncated cone
    between the silhouette circle of its (padded) bounding sphere seen from the lamp and that circle's
    projection onto the ground. Returns (K, 4) screen rectangles (y0, y1, x0, x1), end-exclusive (empty
    when off-screen), the (K, 32, 2) projected cone points, and (K,) flags "whole image" (lamp not above
    the object)."""
    c = objs.centre.astype(np.float64)
    rad = objs.bound.astype(np.float64) + pad
    lp = lamp_pos.astype(np.float64)
    axis = c - lp[None, :]
    dd = np.linalg.norm(axis, axis=1)
    lz = float(lp[2])
    full = (dd <= rad * 1.01) | (lz <= c[:, 2] + rad + 1e-3)
    axis /= dd[:, None]
    u = np.cross(axis, [0.0, 0.0, 1.0])
    un = np.linalg.norm(u, axis=1, keepdims=True)
    u = np.where(un > 1e-9, u / np.maximum(un, 1e-12), [1.0, 0.0, 0.0])
    v = np.cross(axis, u)
    centre = lp[None, :] + axis * (dd - rad * rad / dd)[:, None]
    rho = rad * np.sqrt(np.maximum(dd * dd - rad * rad, 0.0)) / dd
    ring = centre[:, None, :] + rho[:, None, None] * (
        _RING[None, :, :1] * u[:, None, :] + _RING[None, :, 1:] * v[:, None, :])  # (K, 16, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        ground = lp + (ring - lp) * (lz / (lz - ring[:, :, 2:3]))
    pts = np.concatenate([ring, ground], axis=1)  # (K, 32, 3)
    pr = cam.project(pts.reshape(-1, 3)).reshape(len(objs), -1, 3)
    full |= np.any(pr[:, :, 2] < 0.05, axis=1) | ~np.all(np.isfinite(pr), axis=(1, 2))
    boxes = np.empty((len(objs), 4), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        boxes[:, 0] = np.clip(np.floor(np.nan_to_num(pr[:, :, 1].min(1))) - 1, 0, cam.height)
        boxes[:, 1] = np.clip(np.ceil(np.nan_to_num(pr[:, :, 1].max(1))) + 1, 0, cam.height)
        boxes[:, 2] = np.clip(np.floor(np.nan_to_num(pr[:, :, 0].min(1))) - 1, 0, cam.width)
        boxes[:, 3] = np.clip(np.ceil(np.nan_to_num(pr[:, :, 0].max(1))) + 1, 0, cam.width)
    boxes[full] = (0, cam.height, 0, cam.width)
    return boxes, pr[:, :, :2], full


def _region_rows(rows: np.ndarray, box: list[int], hull_pts: np.ndarray | None) -> np.ndarray:
    """Shaded-point rows of the pixels inside the convex polygon ``hull_pts`` (n, 2) (pixel units, x right,
    y down), dilated by a pixel to stay conservative; the whole ``box`` when ``hull_pts`` is None."""
    y0, y1, x0, x1 = box
    block = rows[y0:y1, x0:x1]
    if hull_pts is None:
        return block.ravel()
    pts = np.round((hull_pts - [x0 + 0.5, y0 + 0.5]) * 4.0).astype(np.int32)  # 2 fractional bits
    hull = cv2.convexHull(pts)
    mask = np.zeros(block.shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=2)
    cv2.polylines(mask, [hull], True, 1, thickness=3, lineType=cv2.LINE_8, shift=2)
    return block[mask.view(bool)]


def _visibility(objs: Objects, P: np.ndarray, own: np.ndarray, live: np.ndarray, lamp_pos: np.ndarray,
                offs: np.ndarray, pad: float, screen: Screen) -> np.ndarray:
    """Fraction (m,) of the S shadow rays from points P (m, 3) to ``lamp_pos + offs`` (offs (S, 3)) that no
    object blocks (1 where not ``live``). ``own`` (m,) is the id of the surface P lies on (-1 ground)."""
    m, s = P.shape[0], offs.shape[0]
    targets = lamp_pos[None, :] + offs  # (S, 3)
    boxes, hulls, full = _shadow_boxes(objs, lamp_pos, pad, screen.cam)
    blocks = [
        _region_rows(screen.rows, box, None if full[k] or box[0] >= box[1] or box[2] >= box[3] else hulls[k])
        for k, box in enumerate(boxes.tolist())
    ]
    sizes = np.array([b.size for b in blocks])
    if sizes.sum() == 0:
        return np.ones(m, dtype=np.float32)
    idx = np.concatenate(blocks)
    kk = np.repeat(np.arange(len(objs)), sizes)
    keep = idx >= 0
    idx, kk = idx[keep], kk[keep]
    keep = live[idx] & (own[idx] != kk)
    idx, kk = idx[keep], kk[keep]
    # fine test: the ray towards the lamp centre passes within bound + pad of the object centre
    pk = P[idx]
    L = lamp_pos[None, :] - pk
    L /= np.sqrt(np.einsum("ij,ij->i", L, L))[:, None]
    oc = objs.centre[kk] - pk
    t = np.einsum("ij,ij->i", L, oc)
    rb = objs.bound[kk] + np.float32(pad)
    near = (np.einsum("ij,ij->i", oc, oc) - t * t < rb * rb) & (t > -rb)
    idx, kk, pk = idx[near], kk[near], pk[near]
    if idx.size == 0:
        return np.ones(m, dtype=np.float32)
    if screen.interleave and s > 1:
        # each pixel traces the samples of its 2x2-pattern slot; _smooth() mixes neighbouring slots
        pix = screen.pix[idx]
        w = screen.cam.width
        slot = (pix // w % 2) * 2 + pix % w % 2
        per = max(1, s // 4)
        sel = (slot[:, None] + 4 * np.arange(per)[None, :]) % s  # (n, per) sample ids
        tg = targets[sel]  # (n, per, 3)
        sbits = (1 << sel).astype(np.uint8)
    else:
        per = s
        tg = np.broadcast_to(targets[None, :, :], (idx.size, s, 3))
        sbits = np.broadcast_to((1 << np.arange(s)).astype(np.uint8)[None, :], (idx.size, s))
    d = tg - pk[:, None, :]  # (n, per, 3)
    reach = np.sqrt(np.einsum("nsc,nsc->ns", d, d))
    d /= reach[:, :, None]
    d = d.reshape(-1, 3)
    o = np.repeat(pk, per, axis=0)
    mask = np.zeros(m, dtype=np.uint8)  # bit j set: shadow sample j blocked (S <= 8)
    bounds = np.searchsorted(kk, np.arange(len(objs) + 1))  # kk is grouped by object, ascending
    for k in range(len(objs)):
        a, b = int(bounds[k]), int(bounds[k + 1])
        if a < b:
            th = intersect(objs, k, o[a * per:b * per], d[a * per:b * per]).reshape(b - a, per)
            bits = ((th < reach[a:b]) * sbits[a:b]).sum(1, dtype=np.uint8)
            mask[idx[a:b]] |= bits  # each pixel occurs once per object: plain fancy indexing is safe
    vis = 1.0 - _POPCOUNT[mask] / np.float32(per)
    if screen.interleave and s > 1:
        vis = _smooth(vis, own, screen)
    return vis


_K3 = np.ones((3, 3), dtype=np.uint8)


def _smooth(vis: np.ndarray, own: np.ndarray, screen: Screen) -> np.ndarray:
    """Average ``vis`` (m,) over each pixel's 3x3 neighbours that show the same surface (same id): a plain
    box blur away from silhouettes, an explicit same-id average on them."""
    h, w = screen.rows.shape
    v = np.ones(h * w, dtype=np.float32)
    v[screen.pix] = vis
    v = v.reshape(h, w)
    ids = np.full(h * w, -9, dtype=np.int16)
    ids[screen.pix] = own
    ids = ids.reshape(h, w)
    out = cv2.blur(v, (3, 3), borderType=cv2.BORDER_REPLICATE)
    edge = cv2.dilate(ids, _K3) != cv2.erode(ids, _K3)
    ey, ex = np.nonzero(edge)
    if ey.size:
        vp = np.pad(v, 1, mode="edge")
        ip = np.pad(ids, 1, constant_values=-9)
        centre = ids[ey, ex]
        acc = np.zeros(ey.size, dtype=np.float32)
        cnt = np.zeros(ey.size, dtype=np.float32)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                same = ip[ey + dy, ex + dx] == centre
                acc += np.where(same, vp[ey + dy, ex + dx], np.float32(0.0))
                cnt += same
        out[ey, ex] = acc / np.maximum(cnt, 1.0)
    return out.reshape(-1)[screen.pix]


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.float32)


def _ground_ao(objs: Objects, P: np.ndarray) -> np.ndarray:
    """Ambient-occlusion factor (m,) on the ground from nearby objects (approximate, analytic)."""
    ao = np.ones(P.shape[0], dtype=np.float32)
    x, y = P[:, 0], P[:, 1]
    for k in range(len(objs)):
        r2 = float(objs.r[k]) ** 2
        d2 = (x - objs.centre[k, 0]) ** 2 + (y - objs.centre[k, 1]) ** 2
        ao *= 1.0 - np.float32(0.55 * r2) / (d2 + np.float32(0.6 * r2))
    return ao


def _spec(N: np.ndarray, V: np.ndarray, L: np.ndarray, metal: np.ndarray) -> np.ndarray:
    """Specular lobes (m,) for light direction L: a faint broad one on rubber, two sharp ones on metal."""
    H = L + V
    H /= np.maximum(np.sqrt(np.einsum("ij,ij->i", H, H)), 1e-9)[:, None]
    nh = np.clip(np.einsum("ij,ij->i", N, H), 0.0, 1.0)
    out = np.empty_like(nh)
    rub = ~metal
    out[rub] = _lobe(nh[rub], 12.0, 0.06)
    nm = nh[metal]
    out[metal] = _lobe(nm, 40.0, 0.6) + _lobe(nm, 250.0, 1.2)
    return out


def _lobe(nh: np.ndarray, power: float, weight: float) -> np.ndarray:
    """Normalised Blinn-Phong lobe ``weight * (power + 8) / (8 pi) * nh^power``."""
    return np.float32(weight * (power + 8.0) / (8.0 * math.pi)) * nh**np.float32(power)


def direct_light(objs: Objects, lamps: list[Lamp], P: np.ndarray, N: np.ndarray, V: np.ndarray,
                 own: np.ndarray, screen: Screen | None, metal: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse irradiance (m, 3) and specular radiance (m, 3): none on the ground (own == -1), a faint broad
    lobe on rubber, two sharp lobes where ``metal``. Soft shadows only with a ``screen``."""
    m = P.shape[0]
    px, py, pz = (np.ascontiguousarray(P[:, i]) for i in range(3))
    nx, ny, nz = (np.ascontiguousarray(N[:, i]) for i in range(3))
    weights = np.empty((m, len(lamps) + 1), dtype=np.float32)
    spec = np.zeros((m, 3), dtype=np.float32)
    so = np.flatnonzero(own >= 0)
    is_metal = metal[so] if metal is not None else np.zeros(so.size, dtype=bool)
    for j, lamp in enumerate(lamps):
        lpx, lpy, lpz = (float(v) for v in lamp.pos)
        lx, ly, lz = lpx - px, lpy - py, lpz - pz
        dist2 = lx * lx + ly * ly + lz * lz
        inv = 1.0 / np.sqrt(dist2)
        ax, ay, az = (float(v) for v in -lamp.pos / np.linalg.norm(lamp.pos))
        cos_e = np.clip(-(ax * lx + ay * ly + az * lz) * inv, 0.0, 1.0)
        ndl = np.clip((nx * lx + ny * ly + nz * lz) * inv, 0.0, 1.0)
        # inverse-square falloff softened towards 1/d^1.5 (normalised at the origin): stands in for the
        # light the large backdrop bounces around, which keeps the original's far ground from going dark
        w = ndl * cos_e / dist2 * np.sqrt(np.sqrt(dist2) * np.float32(1.0 / np.linalg.norm(lamp.pos)))
        if screen is not None and len(objs) and lamp.samples:
            w *= _visibility(objs, P, own, w > 0, lamp.pos, _sample_offsets(lamp), lamp.half * 1.5, screen)
        weights[:, j] = w
        if so.size:
            L = np.stack([lx[so], ly[so], lz[so]], axis=1) * inv[so, None]
            s = _spec(N[so], V[so], L, is_metal)
            spec[so] += (s * w[so])[:, None] * lamp.color[None, :]
    # the weak sun ("Area" object): parallel light from high up, unshadowed (its shadows are faint)
    sx, sy, sz = (float(v) for v in SUN_DIR)
    weights[:, -1] = np.clip(nx * sx + ny * sy + nz * sz, 0.0, 1.0)
    colors = [lamp.color for lamp in lamps] + [SUN_COLOR]
    diff = np.empty((m, 3), dtype=np.float32)
    for c in range(3):  # = weights @ colors, avoiding a slow (threaded) BLAS call on a tall-skinny matrix
        acc = weights[:, 0] * np.float32(colors[0][c])
        for j in range(1, len(colors)):
            acc += weights[:, j] * np.float32(colors[j][c])
        diff[:, c] = acc
    return diff, spec


def shade(objs: Objects, lamps: list[Lamp], O: np.ndarray, D: np.ndarray, t: np.ndarray, ids: np.ndarray,
          cam: Camera | None = None, quality: int = 1) -> np.ndarray:
    """Linear RGB (m, 3) of rays (O (3,) or (m,3), D (m,3)) with hits (t, ids) from ``trace``.

    With ``cam`` the rays are the camera's pixel rays (m = H*W): surfaces get soft shadows and metal
    reflects the scene (one bounce). Without it (inside a reflection) everything is matte and unshadowed."""
    bounce = cam is not None
    m = D.shape[0]
    rgb = np.zeros((m, 3), dtype=np.float32)
    hit = ids >= -1
    if not hit.any():
        return rgb + env(D)
    rgb[~hit] = env(D[~hit])
    hi = np.flatnonzero(hit)
    Oh = O if O.ndim == 1 else O[hi]
    Dh = D[hi]
    P = (Oh + t[hi, None] * Dh).astype(np.float32)
    own = ids[hi]
    N = np.zeros_like(P)
    N[:, 2] = 1.0
    for k in range(len(objs)):
        sel = np.flatnonzero(own == k)
        if sel.size:
            N[sel] = normals(objs, k, P[sel])
    albedo = np.empty_like(P)
    albedo[:] = GROUND_ALBEDO
    obj = own >= 0
    albedo[obj] = objs.albedo[own[obj]]
    metal = np.zeros(hi.size, dtype=bool)
    metal[obj] = objs.metal[own[obj]]
    if not bounce:
        metal[:] = False  # inside a reflection: shade everything as matte
    V = -Dh
    screen = None
    if cam is not None:
        rows = np.full(m, -1, dtype=np.int32)
        rows[hi] = np.arange(hi.size, dtype=np.int32)
        screen = Screen(cam, rows.reshape(cam.height, cam.width), hi, interleave=quality < 2)
    diff, spec = direct_light(objs, lamps, P, N, V, own, screen, metal=metal)
    amb = AMBIENT[None, :] * (0.55 + 0.45 * N[:, 2:3])
    gnd = ~obj
    if gnd.any():
        amb[gnd] *= _ground_ao(objs, P[gnd])[:, None]
    out = albedo * (diff + amb) + spec
    if bounce and metal.any():
        mi = np.flatnonzero(metal)
        Nm, Dm = N[mi], Dh[mi]
        cos_v = np.clip(-np.einsum("ij,ij->i", Dm, Nm), 0.0, 1.0)
        R = Dm + 2.0 * cos_v[:, None] * Nm
        Pm = P[mi] + 2 * EPS * Nm
        tr, ir = trace(objs, Pm, R.astype(np.float32), skip=own[mi])
        refl = shade(objs, lamps, Pm, R.astype(np.float32), tr, ir)
        F0 = albedo[mi]
        fres = F0 + (1.0 - F0) * ((1.0 - cos_v) ** 5)[:, None]
        out[mi] = fres * (refl + spec[mi]) + 0.04 * albedo[mi] * (diff[mi] + amb[mi])
    rgb[hi] = out
    return rgb


_LUT_N = 4096
_LUT = np.where(
    (x := np.linspace(0.0, 1.0, _LUT_N)) <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055
)
_LUT8 = np.clip(np.round(_LUT * 255.0), 0, 255).astype(np.uint8)


def to_srgb8(rgb: np.ndarray) -> np.ndarray:
    """Linear RGB float (..., 3) -> sRGB uint8 (..., 3) (clipped, 12-bit lookup)."""
    q = (np.clip(rgb, 0.0, 1.0) * (_LUT_N - 1) + 0.5).astype(np.int32)
    return _LUT8[q]
