"""Random CLEVR-like scenes for GED benchmarks and tests (numpy only, no rendering, no visibility check).

Objects get uniform attributes and positions ``x, y`` in [-3, 3] placed by rejection so that every pair
is more than ``margin`` apart along both the right and the front direction (as the CLEVR generator's
margin rule; with the default 0.4 every ordered pair is related both ways, like released scenes);
``relationships`` are derived from the coordinates with the official rule. Deterministic in ``rng``.
"""

from __future__ import annotations

import numpy as np

from vrkit.retrieval.graphs import VOCAB, relations_from_coords
from vrkit.worlds.clevr.constants import DIRECTIONS, SIZE_RADIUS

_AXES = np.array([DIRECTIONS["right"][:2], DIRECTIONS["front"][:2]], dtype=np.float64)  # (2, 2)


def random_scene(rng: np.random.Generator, n_objects: int, margin: float = 0.4, max_tries: int = 200) -> dict:
    """One scene dict with ``objects`` (shape/color/material/size/3d_coords) and ``relationships``."""
    while True:
        placed = np.empty((0, 2))
        for _ in range(n_objects):
            for _try in range(max_tries):
                p = rng.uniform(-3.0, 3.0, size=2)
                gaps = np.abs((placed - p) @ _AXES.T)  # (m, 2): separation along right / front
                if not len(placed) or np.all(gaps > margin):
                    placed = np.vstack([placed, p])
                    break
            else:
                break
        if len(placed) == n_objects:
            break
    objects = []
    for x, y in placed:
        obj = {a: VOCAB[a][int(rng.integers(len(VOCAB[a])))] for a in ("shape", "color", "material", "size")}
        obj["3d_coords"] = [float(x), float(y), SIZE_RADIUS[obj["size"]]]
        objects.append(obj)
    coords = np.array([o["3d_coords"] for o in objects]).reshape(n_objects, 3)
    return {"objects": objects, "relationships": relations_from_coords(coords)}


def random_scenes(rng: np.random.Generator, count: int, min_objects: int = 3, max_objects: int = 10,
                  margin: float = 0.4) -> list[dict]:
    """``count`` scenes with a uniform number of objects in ``[min_objects, max_objects]``."""
    sizes = rng.integers(min_objects, max_objects + 1, size=count)
    return [random_scene(rng, int(n), margin) for n in sizes]
