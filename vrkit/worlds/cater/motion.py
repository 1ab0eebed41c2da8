"""Objects and their motion: a CATER-style scene and its action schedule, as 3D trajectories (docs/world-cater.md).

Object 0 is the snitch, objects 1 and 2 are a small and a large cone (CATER's first three objects are the
snitch, a medium and a large cone: rohitgirdhar/CATER ``generate/render_videos.py``), the rest are drawn from
cubes, spheres, cylinders and cones. Time runs in frames 0..T-1; motion is simulated at ``SUBSTEPS`` ticks per
frame interval so that collisions between frames are caught too.

The schedule is a sequence of segments; in each, one or two objects act at once (each starting in the
segment's first two frames): ``slide`` (along the floor to a point), ``pick_place`` (lift, carry, set down),
``rotate`` (a turn of 30-60 degrees about the vertical axis; cubes only) or ``contain`` (an empty cone is
pick-placed over a smaller sphere, cone or the snitch). A covered object moves with its cone when the cone
slides and is released — stays where it is — when the cone is picked up (CATER ``generate/actions.py``:
a contained stack slides together; pick-place splits it). Only uncovered ("top-level") objects act. No two
objects' footprints come closer than ``GAP`` while their height ranges overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vrkit.worlds.cater.constants import (
    COLORS,
    CONE,
    CONTAINABLE,
    FIT_RATIO,
    GAP,
    LIFT,
    MATERIALS,
    PLACE,
    RADIUS,
    SHAPES,
    SIZES,
    SNITCH,
    SNITCH_COLOR,
    SNITCH_RADIUS,
    SUBSTEPS,
)

MIN_TRAVEL = 1.0  # a slide or pick-place moves at least this far
TRIES = 12  # target draws per action before giving up on it


@dataclass
class Body:
    shape: str
    size: str
    color: str
    material: str
    radius: float  # half-extent r: the object rests with its centre at z = r

    @property
    def footprint(self) -> float:
        """Radius of the floor disc the object covers at any yaw."""
        return self.radius * (math.sqrt(2.0) if self.shape == "cube" else 1.0)

    def to_json(self) -> dict:
        return {"shape": self.shape, "size": self.size, "color": self.color, "material": self.material,
                "radius": self.radius}


@dataclass
class Motion:
    """The simulated video: bodies, per-tick centres (K, N, 3) and yaws (K, N) in radians, per-frame direct
    container (K, T) (-1: none), and the actions performed, in schedule order."""

    bodies: list[Body]
    pos: np.ndarray
    yaw: np.ndarray
    holder: np.ndarray
    actions: list[dict] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.holder.shape[1]

    def frame_pos(self) -> np.ndarray:
        return self.pos[:, ::SUBSTEPS]

    def frame_yaw(self) -> np.ndarray:
        return self.yaw[:, ::SUBSTEPS]


def sample_bodies(rng: np.random.Generator, n: int) -> list[Body]:
    """The snitch, a small and a large cone, then ``n - 3`` random CLEVR objects or cones."""
    bodies = [Body(SNITCH, "small", SNITCH_COLOR, "metal", SNITCH_RADIUS)]
    for size in ("small", "large"):
        bodies.append(Body(CONE, size, COLORS[rng.integers(len(COLORS))], MATERIALS[rng.integers(2)],
                           RADIUS[size]))
    for _ in range(n - 3):
        size = SIZES[rng.integers(len(SIZES))]
        bodies.append(Body(SHAPES[rng.integers(len(SHAPES))], size, COLORS[rng.integers(len(COLORS))],
                           MATERIALS[rng.integers(2)], RADIUS[size]))
    return bodies


def _place(rng: np.random.Generator, bodies: list[Body]) -> np.ndarray | None:
    xy = np.zeros((len(bodies), 2))
    for k, b in enumerate(bodies):
        for _ in range(100):
            p = rng.uniform(-PLACE, PLACE, size=2)
            if all(np.hypot(*(p - xy[j])) >= b.footprint + bodies[j].footprint + GAP for j in range(k)):
                xy[k] = p
                break
        else:
            return None
    return xy


def fits(cone: Body, inner: Body) -> bool:
    """Whether ``inner`` fits under ``cone`` (module docstring of constants: FIT_RATIO; a cone under a larger
    cone has parallel sides)."""
    if cone.shape != CONE or inner.shape not in CONTAINABLE:
        return False
    if inner.shape == CONE:
        return inner.radius < cone.radius
    return inner.radius <= cone.radius / FIT_RATIO + 1e-9


class _Scheduler:
    def __init__(self, rng: np.random.Generator, bodies: list[Body], xy: np.ndarray, frames: int,
                 action_frames: tuple[int, int], contain_prob: float) -> None:
        self.rng, self.bodies, self.frames = rng, bodies, frames
        self.dmin, self.dmax = action_frames
        self.contain_prob = contain_prob
        k, n = len(bodies), (frames - 1) * SUBSTEPS + 1
        r = np.array([b.radius for b in bodies])
        self.pos = np.zeros((k, n, 3))
        self.pos[:, :, :2] = xy[:, None, :]
        self.pos[:, :, 2] = r[:, None]
        self.yaw = np.repeat(rng.uniform(0, 2 * math.pi, size=(k, 1)), n, axis=1)
        self.r = r
        self.foot = np.array([b.footprint for b in bodies])
        self.holder = np.full((k, frames), -1, dtype=np.int64)
        self.inside: dict[int, list[int]] = {i: [] for i in range(k)}  # direct contents now
        self.covered: set[int] = set()
        self.actions: list[dict] = []

    # -- helpers --------------------------------------------------------------------------------------
    def group(self, k: int) -> list[int]:
        out = [k]
        for j in self.inside[k]:
            out += self.group(j)
        return out

    def _path(self, kind: str, k: int, s: int, e: int, to: np.ndarray | None) -> np.ndarray:
        """Centres (ticks s*S .. end, 3) of object k doing ``kind`` from frame s to e (held after e)."""
        a = self.pos[k, s * SUBSTEPS].copy()
        n = self.pos.shape[1] - s * SUBSTEPS
        steps = (e - s) * SUBSTEPS
        u = np.minimum(np.arange(n) / steps, 1.0)
        out = np.repeat(a[None, :], n, axis=0)
        if kind == "slide":
            out[:, :2] = a[:2] + (to - a[:2]) * u[:, None]
        elif kind == "pick_place":
            w = np.clip((u - 0.25) / 0.5, 0.0, 1.0)
            out[:, :2] = a[:2] + (to - a[:2]) * w[:, None]
            out[:, 2] = a[2] + LIFT * np.clip(np.minimum(u, 1.0 - u) / 0.25, 0.0, 1.0)
        return out

    def _clear(self, k: int, s: int, path: np.ndarray, ignore: dict[int, int]) -> bool:
        """No collision of object k on ``path`` (from tick s*S) with the others, outside its own group;
        ``ignore[j] = m`` skips j during the first m ticks of the path."""
        t0 = s * SUBSTEPS
        mine = set(self.group(k))
        for j in range(len(self.bodies)):
            if j in mine:
                continue
            m = ignore.get(j, 0)
            if m < 0:
                continue
            other = self.pos[j, t0 + m:]
            p = path[m:]
            near = np.hypot(*(p[:, :2] - other[:, :2]).T) < self.foot[k] + self.foot[j] + GAP
            zo = (p[:, 2] - self.r[k] < other[:, 2] + self.r[j]) & (other[:, 2] - self.r[j] < p[:, 2] + self.r[k])
            if np.any(near & zo):
                return False
        return True

    def _span(self, t: int) -> tuple[int, int] | None:
        s = t + int(self.rng.integers(0, 2))
        e = min(s + int(self.rng.integers(self.dmin, self.dmax + 1)), self.frames - 1)
        return (s, e) if e - s >= max(2, self.dmin - 1) else None

    def _target(self, k: int) -> np.ndarray | None:
        a = self.pos[k, -1, :2]
        for _ in range(TRIES):
            p = self.rng.uniform(-PLACE, PLACE, size=2)
            if np.hypot(*(p - a)) >= MIN_TRAVEL:
                return p
        return None

    # -- actions --------------------------------------------------------------------------------------
    def contain(self, t: int, busy: set[int]) -> int:
        """Try one contain; return its end frame (or -1)."""
        top = [i for i in range(len(self.bodies)) if i not in self.covered and i not in busy]
        cones = [i for i in top if self.bodies[i].shape == CONE and not self.inside[i]]
        pairs = [(c, j) for c in cones for j in top if j != c and fits(self.bodies[c], self.bodies[j])]
        if not pairs:
            return -1
        span = self._span(t)
        if span is None:
            return -1
        s, e = span
        snitch = [p for p in pairs if p[1] == 0]
        pool = snitch if snitch and self.rng.random() < 0.5 else pairs
        for idx in self.rng.permutation(len(pool))[:TRIES]:
            c, j = pool[int(idx)]
            path = self._path("pick_place", c, s, e, self.pos[j, s * SUBSTEPS, :2])
            if self._clear(c, s, path, {g: -1 for g in self.group(j)}):
                self.pos[c, s * SUBSTEPS:] = path
                self.inside[c].append(j)
                self.covered.add(j)
                self.holder[j, e:] = c
                busy.update((c, j))
                self.actions.append({"action": "contain", "object": c, "start": s, "end": e, "target": j,
                                     "from": _xy(path[0]), "to": _xy(path[-1])})
                return e
        return -1

    def single(self, k: int, t: int) -> int:
        """Try one slide / pick-place / rotate of top-level object k; return its end frame (or -1)."""
        b = self.bodies[k]
        kinds = ["slide", "pick_place"] + (["rotate"] if b.shape == "cube" and not self.inside[k] else [])
        kind = kinds[int(self.rng.integers(len(kinds)))]
        span = self._span(t)
        if span is None:
            return -1
        s, e = span
        t0 = s * SUBSTEPS
        if kind == "rotate":
            delta = math.radians(float(self.rng.uniform(30, 60))) * (1 if self.rng.random() < 0.5 else -1)
            u = np.minimum(np.arange(self.pos.shape[1] - t0) / ((e - s) * SUBSTEPS), 1.0)
            self.yaw[k, t0:] = self.yaw[k, t0] + delta * u
            self.actions.append({"action": "rotate", "object": k, "start": s, "end": e,
                                 "angle": round(math.degrees(delta), 6)})
            return e
        for _ in range(TRIES):
            to = self._target(k)
            if to is None:
                return -1
            path = self._path(kind, k, s, e, to)
            released = list(self.inside[k]) if kind == "pick_place" else []
            lift = (e - s) * SUBSTEPS // 2  # a released object is under the cone until it has lifted
            if not self._clear(k, s, path, {j: lift for j in released}):
                continue
            act = {"action": kind, "object": k, "start": s, "end": e, "from": _xy(path[0]), "to": _xy(to)}
            if kind == "slide" and self.inside[k]:
                delta = path - path[0]
                for j in self.group(k)[1:]:
                    self.pos[j, t0:] = self.pos[j, t0] + delta
                act["carried"] = self.group(k)[1:]
            self.pos[k, t0:] = path
            if released:
                for j in released:
                    self.holder[j, s + 1:] = -1
                    self.covered.discard(j)
                self.inside[k] = []
                act["released"] = released
            self.actions.append(act)
            return e
        return -1

    def run(self) -> None:
        t = 0
        while self.frames - 1 - t >= max(2, self.dmin - 1):
            busy: set[int] = set()
            end = self.contain(t, busy) if self.rng.random() < self.contain_prob else -1
            top = [i for i in range(len(self.bodies)) if i not in self.covered and i not in busy]
            order = self.rng.permutation(top)[: int(self.rng.integers(1, 3))]
            for k in order:
                end = max(end, self.single(int(k), t))
            t = end if end > t else t + 1


def _xy(p: np.ndarray) -> list[float]:
    return [round(float(p[0]), 6), round(float(p[1]), 6)]


def simulate(rng: np.random.Generator, n_objects: int, frames: int, action_frames: tuple[int, int],
             contain_prob: float) -> Motion:
    """Draw the objects, their places and their actions."""
    while True:
        bodies = sample_bodies(rng, n_objects)
        xy = _place(rng, bodies)
        if xy is not None:
            break
    sch = _Scheduler(rng, bodies, xy, frames, action_frames, contain_prob)
    sch.run()
    return Motion(bodies, sch.pos, sch.yaw, sch.holder, sch.actions)
