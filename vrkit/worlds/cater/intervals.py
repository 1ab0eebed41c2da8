"""Containment intervals from a per-frame cover array: the one reading of the record's ``contained_by`` rows
that the generator (to write ``containment``) and the checker (to compare it) share."""

from __future__ import annotations

import numpy as np


def cover_intervals(cover: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``(cone, object, start, end)`` for every run of frames in which an object has the same direct cover;
    ``cover`` is (K objects, T frames), -1 where uncovered; ``end`` is the run's last frame. Sorted."""
    out = []
    for j, row in enumerate(np.asarray(cover)):
        t = 0
        while t < len(row):
            if row[t] < 0:
                t += 1
                continue
            c, s = int(row[t]), t
            while t < len(row) and row[t] == c:
                t += 1
            out.append((c, j, s, t - 1))
    return sorted(out)
