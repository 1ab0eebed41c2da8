"""The COG scene model used by the generator (docs/world-cog.md, 'Scene construction').

Objects live in one list ordered by ascending span end (the JSON order) and in per-frame lists
for fast queries. Queries delete the distractors they match (the original's side effect;
docs/world-cog.md, 'Quirks kept'), so answers equal evaluation with distractors invisible.

Written by hand: the original's semantics (spans, look-back windows, near misses, deletions) are
specific to COG; no library models them. Plain Python objects with ``__slots__`` are used because
scenes are small (4–60 objects) and the hot path is dominated by per-call overhead, not arithmetic.
"""

from __future__ import annotations

import random

from vrkit.worlds.cog.combos import COLORS_WITH, SHAPES_WITH
from vrkit.worlds.cog.constants import COLORS, SHAPES

Region = tuple[float, float, float, float]  # open box: x0 < x < x1, y0 < y < y1
LO, HI = 0.05, 0.95


class Obj:
    """One object: location, colour, shape, visible frames [start, end), distractor flag."""

    __slots__ = ("x", "y", "color", "shape", "start", "end", "dist")

    def __init__(self, x: float, y: float, color: str, shape: str, start: int, end: int, dist: bool) -> None:
        self.x, self.y, self.color, self.shape = x, y, color, shape
        self.start, self.end, self.dist = start, end, dist

    def to_json(self) -> dict:
        epochs = self.start if self.end - self.start == 1 else list(range(self.start, self.end))
        return {"color": self.color, "epochs": epochs, "is_distractor": self.dist,
                "location": [self.x, self.y], "shape": self.shape}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        d = "D" if self.dist else ""
        return f"Obj({self.color} {self.shape} ({self.x},{self.y}) [{self.start},{self.end}){d})"


def _sort_key(o: Obj) -> tuple:
    return (o.x, o.y, o.color, o.shape)


def region_of(space: str, x: float, y: float) -> Region:
    """The region "on ``space`` of" a reference at (x, y), clipped to (0.05, 0.95)."""
    if space == "left":
        return (LO, min(x, HI), LO, HI)
    if space == "right":
        return (max(x, LO), HI, LO, HI)
    if space == "top":
        return (LO, HI, LO, min(y, HI))
    return (LO, HI, max(y, LO), HI)  # bottom


def draw_in(region: Region | None, rng: random.Random) -> tuple[float, float]:
    """A location drawn with the shrink rule: 10 % of the box removed on each side, rounded."""
    x0, x1, y0, y1 = region if region is not None else (0.0, 1.0, 0.0, 1.0)
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return round(rng.uniform(x0 + dx, x1 - dx), 3), round(rng.uniform(y0 + dy, y1 - dy), 3)


def random_location(rng: random.Random) -> tuple[float, float]:
    """A target location, uniform on [0.05, 0.95]², rounded."""
    return round(rng.uniform(LO, HI), 3), round(rng.uniform(LO, HI), 3)


class Scene:
    """E frames of objects plus the look-back M; owns the generator's random source."""

    __slots__ = ("E", "M", "rng", "objs", "frames", "combos")

    def __init__(self, frames: int, lookback: int, rng: random.Random, combos: str | None = None) -> None:
        self.E, self.M, self.rng = frames, lookback, rng
        self.combos = combos  # compositional split of the colour x shape pairs (combos.py) or None
        self.objs: list[Obj] = []
        self.frames: list[list[Obj]] = [[] for _ in range(frames)]

    # -- structure -------------------------------------------------------------------------
    def insert(self, o: Obj) -> None:
        """Insert before existing objects with the same (or a later) span end."""
        objs, end = self.objs, o.end
        i = len(objs)
        for j, p in enumerate(objs):
            if p.end >= end:
                i = j
                break
        objs.insert(i, o)
        frames = self.frames
        for t in range(o.start, o.end):
            frames[t].append(o)

    def delete(self, o: Obj) -> None:
        self.objs.remove(o)
        frames = self.frames
        for t in range(o.start, o.end):
            frames[t].remove(o)

    def search_frames(self, when: str | None, t: int) -> range:
        """Frames a selection inspects at frame t, newest first."""
        if when == "now":
            return range(t, t + 1)
        if when == "last1":
            return range(t - 1, max(0, t - 1 - self.M) - 1, -1)
        return range(t, max(0, t - self.M) - 1, -1)  # latest or no time word

    # -- queries ---------------------------------------------------------------------------
    def query(self, color: str | None, shape: str | None, region: Region | None, when: str | None,
              t: int) -> list[Obj]:
        """Matching non-distractor objects of the first frame that has any, sorted by (x, y, colour, shape).

        Deletes every matching distractor in each frame it inspects."""
        frames = self.frames
        for f in self.search_frames(when, t):
            found: list[Obj] = []
            dead: list[Obj] = []
            for o in frames[f]:
                if color is not None and o.color != color:
                    continue
                if shape is not None and o.shape != shape:
                    continue
                if region is not None:
                    x0, x1, y0, y1 = region
                    if not (x0 < o.x < x1 and y0 < o.y < y1):
                        continue
                (dead if o.dist else found).append(o)
            for o in dead:
                self.delete(o)
            if found:
                if len(found) > 1:
                    found.sort(key=_sort_key)
                return found
        return []

    # -- construction ----------------------------------------------------------------------
    def place(self, region: Region | None, t: int) -> tuple[float, float]:
        """Up to 100 shrink-rule draws; the first farther than 0.2 from every object in frame t wins.

        Hot path of the generator (hard frames hold ~10 objects and often need many tries), so the
        draw ``a + (b - a) * random()`` (what ``random.uniform`` computes) and the distance test are inlined."""
        rand = self.rng.random
        pts = [(o.x, o.y) for o in self.frames[t]]
        x0, x1, y0, y1 = region if region is not None else (0.0, 1.0, 0.0, 1.0)
        dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        ax, ay = x0 + dx, y0 + dy
        wx, wy = (x1 - dx) - ax, (y1 - dy) - ay
        for _ in range(100):
            x = round(ax + wx * rand(), 3)
            y = round(ay + wy * rand(), 3)
            for ox, oy in pts:
                ex, ey = ox - x, oy - y
                if ex * ex + ey * ey <= 0.04:
                    break
            else:
                return x, y
        return x, y

    def add(self, color: str | None, shape: str | None, region: Region | None, when: str | None, t: int,
            check: bool = True, dist: bool = False) -> Obj | None:
        """Add an object described by (colour, shape, region) with time word ``when`` at step frame t.

        With ``check``, an existing match is returned instead (the last of the sorted matches).
        Returns None for ``last1`` at t = 0."""
        if check:
            found = self.query(color, shape, region, when, t)
            if found:
                return found[-1]
        rng = self.rng
        if when == "now":
            start, end = t, t + 1
        elif when == "latest":
            start = rng.randint(max(t - self.M, 0), t)
            end = start + 1
        elif when == "last1":
            if t == 0:
                return None
            start = rng.randint(max(t - self.M, 0), t - 1)
            end = start + 1
        else:
            start, end = 0, self.E
        x, y = self.place(region, t)
        if self.combos is not None:  # free attributes among the split's partners of the other one
            color, shape = self.partner(color, shape)
        o = Obj(x, y, color if color is not None else rng.choice(COLORS),
                shape if shape is not None else rng.choice(SHAPES), start, end, dist)
        self.insert(o)
        return o

    def add_distractors(self, n: int, t: int) -> None:
        """n random (colour, shape) clutter objects at frame t, replacing identical clutter."""
        rng = self.rng
        for _ in range(n):
            color, shape = (rng.choice(COLORS), rng.choice(SHAPES)) if self.combos is None else self.partner(None, None)
            for o in [o for o in self.frames[t] if o.dist and o.color == color and o.shape == shape]:
                self.delete(o)
            self.add(color, shape, None, "now", t, check=False, dist=True)

    def partner(self, color: str | None, shape: str | None) -> tuple[str, str]:
        """Split scenes: (colour, shape) with the missing ones drawn so that the pair is in the split
        (colour first when both are missing: uniform over the split's pairs)."""
        rng, k = self.rng, self.combos
        if color is None and shape is None:
            color = rng.choice(COLORS)
        if color is None:
            color = rng.choice(COLORS_WITH[k][shape])
        elif shape is None:
            shape = rng.choice(SHAPES_WITH[k][color])
        return color, shape

    def to_json(self) -> list[dict]:
        return [o.to_json() for o in self.objs]
