"""The 6 x 6 floor grid of snitch localisation (CATER's 36 classes) and its metrics.

Cell of a floor point (x, y): column ``floor(x) + 3``, row ``floor(y) + 3`` (each clipped to 0..5, so a point
just outside the [-3, 3) square falls into the border cell), class ``row * 6 + column`` — the numbering of
CATER's ``localize_dataset`` (rohitgirdhar/CATER ``generate/gen_train_test.py``). Metrics as in CATER's
``localization_eval.py``: top-1 and top-5 accuracy, and the mean L1 (Manhattan) distance in cells between the
predicted (arg-max) and the true cell.
"""

from __future__ import annotations

import math

import numpy as np

from vrkit.worlds.cater.constants import FLOOR, GRID, N_CELLS

__all__ = ["N_CELLS", "cell_of", "cell_centre", "grid_l1", "localisation_metrics"]


def cell_of(x: float, y: float) -> int:
    """Grid cell (0..35) of floor point (x, y)."""
    col = min(max(int(math.floor(x)) + GRID // 2, 0), GRID - 1)
    row = min(max(int(math.floor(y)) + GRID // 2, 0), GRID - 1)
    return row * GRID + col


def cell_centre(cell: int) -> tuple[float, float]:
    """Floor (x, y) of the centre of ``cell``."""
    row, col = divmod(int(cell), GRID)
    step = 2 * FLOOR / GRID
    return (-FLOOR + (col + 0.5) * step, -FLOOR + (row + 0.5) * step)


def grid_l1(cell_a: int | np.ndarray, cell_b: int | np.ndarray) -> int | np.ndarray:
    """Manhattan distance in cells between two cells (elementwise on arrays)."""
    ra, ca = np.divmod(np.asarray(cell_a), GRID)
    rb, cb = np.divmod(np.asarray(cell_b), GRID)
    d = np.abs(ra - rb) + np.abs(ca - cb)
    return int(d) if d.ndim == 0 else d


def localisation_metrics(logits: np.ndarray, cells: np.ndarray) -> dict[str, float]:
    """Top-1, top-5 accuracy and mean grid L1 distance of (N, 36) scores against true cells (N,)."""
    logits = np.asarray(logits, dtype=np.float64)
    cells = np.asarray(cells).astype(np.int64)
    if logits.ndim != 2 or logits.shape[1] != N_CELLS or cells.shape != (logits.shape[0],):
        raise ValueError(f"expected (N, {N_CELLS}) scores and (N,) cells, got {logits.shape} and {cells.shape}")
    if len(cells) == 0:
        return {"top1": float("nan"), "top5": float("nan"), "l1": float("nan")}
    order = np.argsort(-logits, axis=1, kind="stable")
    return {
        "top1": float(np.mean(order[:, 0] == cells)),
        "top5": float(np.mean((order[:, :5] == cells[:, None]).any(1))),
        "l1": float(np.mean(grid_l1(order[:, 0], cells))),
    }
