"""A stand-in for the CATER world in tests of the IV-CL stack: coloured squares sliding over a 6 x 6 floor.

Object 0 is the "snitch"; its final cell is the label. In about a third of the videos it is "contained" for the
last frames (not drawn, left out of the state), as a cone would hide it. Same interface as
``vrkit.data.cater.WorldSource``: ``make(seed, world)``, ``state(video)``, ``sizes(world)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

COLOURS = np.array([[255, 215, 0], [200, 40, 40], [40, 160, 40], [40, 80, 220]], np.uint8)
MAX_OBJECTS = 3
N_CAT = len(COLOURS)


@dataclass
class FakeVideo:
    frames: np.ndarray  # (T, H, W, 3) uint8
    snitch_cell: int
    actions: np.ndarray
    snitch_contained_at_end: bool
    meta: dict[str, Any] = field(default_factory=dict)


class FakeSource:
    def __init__(self) -> None:
        self.made = 0

    def make(self, seed: int, world: dict[str, Any]) -> FakeVideo:
        self.made += 1
        T, S = int(world.get("frames", 4)), int(world.get("size", 32))
        rng = np.random.default_rng(seed)
        n = int(rng.integers(2, MAX_OBJECTS + 1))
        start = rng.uniform(0, 6, size=(n, 2))
        end = rng.uniform(0, 6, size=(n, 2))
        colour = np.concatenate([[0], rng.integers(1, len(COLOURS), size=n - 1)])
        contained = bool(rng.random() < 0.35)
        pos = start[None] + (end - start)[None] * np.linspace(0, 1, T)[:, None, None]  # (T, n, 2)
        visible = np.ones((T, n), bool)
        if contained:
            visible[T // 2:, 0] = False
        frames = np.full((T, S, S, 3), 30, np.uint8)
        half = max(1, S // 16)
        for t in range(T):
            for i in range(n):
                if visible[t, i]:
                    x, y = (pos[t, i] / 6 * S).astype(int)
                    frames[t, max(0, y - half):y + half, max(0, x - half):x + half] = COLOURS[colour[i]]
        cell = int(min(int(end[0, 1]), 5) * 6 + min(int(end[0, 0]), 5))
        return FakeVideo(frames, cell, np.eye(4, dtype=np.float32)[seed % 4], contained,
                         {"pos": pos, "colour": colour, "visible": visible})

    def state(self, video: FakeVideo) -> tuple[np.ndarray, np.ndarray, int]:
        pos, colour, visible = video.meta["pos"], video.meta["colour"], video.meta["visible"]
        T, n = visible.shape
        objects = np.zeros((T, MAX_OBJECTS, N_CAT + 2), np.float32)
        mask = np.zeros((T, MAX_OBJECTS), bool)
        objects[:, :n, :N_CAT] = np.eye(N_CAT)[colour][None]
        objects[:, :n, N_CAT:] = pos / 6
        mask[:, :n] = visible
        objects[~mask] = 0
        return objects, mask, N_CAT

    def sizes(self, world: dict[str, Any]) -> dict[str, int]:
        return {"features": N_CAT + 2, "attributes": N_CAT, "max_objects": MAX_OBJECTS}
