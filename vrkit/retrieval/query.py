"""Nearest-neighbour retrieval in a feature index and an image grid of the results.

Ranking: ascending L2 distance between feature vectors over every indexed image, the query itself included
(at distance 0 it comes first: ties are broken in its favour, then by index order). Each hit carries the
approximate GED between its scene graph and the query's (:func:`vrkit.retrieval.ged.approx_ged_batch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.retrieval.features import FeatureIndex
from vrkit.retrieval.ged import approx_ged_batch
from vrkit.retrieval.metrics import l2_distances
from vrkit.utils.atomic import atomic_path


def find_image(index: FeatureIndex, image: str | int) -> int:
    """Position of ``image`` in the index: a file name (or path, matched by name), or a position 0..N-1."""
    text = str(image)
    name = Path(text).name
    if name in index.filenames:
        return index.filenames.index(name)
    try:
        pos = int(text)
    except ValueError:
        raise InputError(f"image {text!r} is not in the index (give a file name or a position 0..{len(index) - 1})",
                         index.path) from None
    if not 0 <= pos < len(index):
        raise InputError(f"image position {pos} is out of range 0..{len(index) - 1}", index.path)
    return pos


def query_index(index: FeatureIndex, image: str | int, k: int = 10, mode: str = "soft") -> list[dict[str, Any]]:
    """The ``k`` nearest images to ``image`` -> ``[{"rank", "position", "filename", "scene_index", "distance",
    "ged"}]`` (rank 1 = the query itself)."""
    q = find_image(index, image)
    dist = l2_distances(index.features[q:q + 1], index.features)[0]
    dist[q] = 0.0  # exact, whatever the rounding of the expanded square
    not_self = np.ones(len(index), dtype=np.int8)
    not_self[q] = 0
    order = np.lexsort((np.arange(len(index)), not_self, dist))[: max(1, int(k))]
    ged = approx_ged_batch(index.graphs.subset(slice(q, q + 1)), index.graphs.subset(order), mode)
    return [{"rank": r + 1, "position": int(p), "filename": index.filenames[p],
             "scene_index": int(index.scene_indices[p]), "distance": float(dist[p]), "ged": float(g)}
            for r, (p, g) in enumerate(zip(order, ged, strict=True))]


def _picture(index: FeatureIndex, pos: int, cache: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 of an indexed image: its file, else the scene rendered by vrkit's renderer."""
    from vrkit.data.clevr import load_image

    images = index.meta.get("images")
    if images and (Path(images) / index.filenames[pos]).is_file():
        return load_image(Path(images) / index.filenames[pos])
    from vrkit.worlds.clevr.io import read_scenes
    from vrkit.worlds.clevr.render import render_scene

    if "scenes" not in cache:
        if not index.meta.get("scenes"):
            raise InputError("the index names no image directory and no scenes file", index.path)
        cache["scenes"] = read_scenes(index.meta["scenes"])[1]
    return render_scene(cache["scenes"][pos], 160, 120)


def write_grid(index: FeatureIndex, hits: list[dict[str, Any]], out: str | Path, query: int,
               cols: int = 6, mode: str = "soft") -> Path:
    """PNG grid (matplotlib Agg): the query, then every hit titled with its distance and GED."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cache: dict[str, Any] = {}
    panels = [(query, f"query\n{index.filenames[query]}")]
    panels += [(h["position"], f"#{h['rank']} d={h['distance']:.3g}\n{mode} GED={h['ged']:.2f}") for h in hits]
    cols = max(1, min(cols, len(panels)))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (pos, title) in zip(axes.flat, panels, strict=False):
        ax.imshow(_picture(index, pos, cache))
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return out
