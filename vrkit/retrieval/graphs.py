"""CLEVR scene -> relational scene graph, the ground truth of R-CBIR (docs/transfer.md, 'R-CBIR').

A :class:`SceneGraph` has one node per object, carrying four attribute codes in the fixed order
``ATTRS = (shape, color, material, size)`` (indices into the vocabularies of
:mod:`vrkit.worlds.clevr.constants`), and directed, labelled edges built from the scene's
``relationships`` — only ``right`` and ``front`` (``left``/``behind`` are their mirror images and add
nothing).

Direction convention (the official one, docs/world-clevr.md, 'Scenes'): ``j in relationships["right"][i]`` means
"object j is right of object i". We store it as the directed edge ``i -> j`` carrying the bit ``RIGHT``;
likewise ``FRONT`` for "j is in front of i". ``labels[i, j]`` is the edge label of ``i -> j``:
``0`` no edge, ``1`` right, ``2`` front, ``3`` right and front. In a released scene every unordered pair
has exactly one of i->j / j->i "right" and one of i->j / j->i "front", so a pair carries either one edge
labelled 3 or two opposite edges labelled 1 and 2.

:class:`GraphBatch` packs many graphs into fixed-size padded arrays for the vectorised GED code:
``attrs [N, K, 4] int8`` (``-1`` on padding) and ``labels [N, K, K] uint8`` (``0`` on padding).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import COLORS, DIRECTIONS, MATERIALS, RELATION_EPS, SHAPES, SIZES

ATTRS: tuple[str, ...] = ("shape", "color", "material", "size")
VOCAB: dict[str, tuple[str, ...]] = {"shape": SHAPES, "color": COLORS, "material": MATERIALS, "size": SIZES}
RIGHT, FRONT = 1, 2
EDGE_RELATIONS: dict[str, int] = {"right": RIGHT, "front": FRONT}
MAX_NODES = 10  # CLEVR scenes hold 3-10 objects


@dataclass(frozen=True)
class SceneGraph:
    """One scene graph: ``attrs [n, 4] int8`` codes (shape, color, material, size), ``labels [n, n] uint8``."""

    attrs: np.ndarray
    labels: np.ndarray

    @property
    def n(self) -> int:
        return int(self.attrs.shape[0])

    @property
    def n_edges(self) -> int:
        return int(np.count_nonzero(self.labels))


def relations_from_coords(coords: np.ndarray, eps: float = RELATION_EPS,
                          directions: dict[str, list[float]] | None = None) -> dict[str, list[list[int]]]:
    """The four CLEVR relationship lists from object centres ``coords [n, 3]`` (docs/world-clevr.md, 'Scenes').

    ``out[rel][i]`` = ascending ``j != i`` with ``(p_j - p_i) . d_rel > eps``; ``directions`` default to the
    released ones.
    """
    directions = DIRECTIONS if directions is None else directions
    p = np.asarray(coords, dtype=np.float64)[:, :2]
    out: dict[str, list[list[int]]] = {}
    for rel in ("behind", "front", "left", "right"):
        d = np.asarray(directions[rel][:2], dtype=np.float64)
        proj = (p[None, :, :] - p[:, None, :]) @ d  # (n, n): [i, j] = (p_j - p_i) . d
        np.fill_diagonal(proj, -np.inf)
        out[rel] = [np.flatnonzero(row > eps).tolist() for row in proj]
    return out


def _code(obj: Any, attr: str, where: str) -> int:
    if not isinstance(obj, dict) or attr not in obj:
        raise InputError(f"{where}: missing '{attr}'")
    try:
        return VOCAB[attr].index(obj[attr])
    except ValueError:
        raise InputError(f"{where}: unknown {attr} {obj[attr]!r}") from None


def scene_to_graph(scene: dict, where: str = "scene") -> SceneGraph:
    """Build the graph of one official scene dict (uses ``relationships``; derives them from ``3d_coords``
    and the scene's ``directions`` (else the released ones) when the key is absent). Raises
    :class:`InputError` naming ``where`` on malformed input."""
    objects = scene.get("objects") if isinstance(scene, dict) else None
    if not isinstance(objects, list):
        raise InputError(f"{where}: missing 'objects' list")
    n = len(objects)
    attrs = np.array([[_code(o, a, f"{where}.objects[{i}]") for a in ATTRS] for i, o in enumerate(objects)],
                     dtype=np.int8).reshape(n, len(ATTRS))
    rels = scene.get("relationships")
    if rels is None:
        try:
            coords = np.array([o["3d_coords"] for o in objects], dtype=np.float64).reshape(n, 3)
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: needs 'relationships' or numeric '3d_coords' for every object") from None
        dirs = scene.get("directions")
        rels = relations_from_coords(coords, directions=dirs if isinstance(dirs, dict) else None)
    labels = np.zeros((n, n), dtype=np.uint8)
    for rel, bit in EDGE_RELATIONS.items():
        lists = rels.get(rel) if isinstance(rels, dict) else None
        if not isinstance(lists, list) or len(lists) != n:
            raise InputError(f"{where}.relationships.{rel}: must be a list of {n} index lists")
        for i, js in enumerate(lists):
            for j in js:
                if not isinstance(j, int) or not 0 <= j < n or j == i:
                    raise InputError(f"{where}.relationships.{rel}[{i}]: bad object index {j!r}")
                labels[i, j] |= bit
    return SceneGraph(attrs, labels)


def scenes_to_graphs(scenes: Iterable[dict]) -> list[SceneGraph]:
    """Graphs of many scene dicts, in order."""
    return [scene_to_graph(s, f"scenes[{i}]") for i, s in enumerate(scenes)]


def load_scene_graphs(path: str | Path) -> list[SceneGraph]:
    """Read an official ``*_scenes.json`` (validated by :func:`vrkit.worlds.clevr.io.read_scenes`) into graphs."""
    from vrkit.worlds.clevr.io import read_scenes

    _, scenes = read_scenes(path)
    try:
        return scenes_to_graphs(scenes)
    except InputError as err:
        raise err.at(path) from None


def to_networkx(g: SceneGraph) -> Any:
    """A ``networkx.DiGraph``: node attributes ``shape/color/material/size`` (codes), edge attribute
    ``label`` (1 right, 2 front, 3 both) on every ``i -> j`` with ``labels[i, j] != 0``."""
    import networkx as nx

    G = nx.DiGraph()
    for i in range(g.n):
        G.add_node(i, **{a: int(g.attrs[i, k]) for k, a in enumerate(ATTRS)})
    for i, j in zip(*np.nonzero(g.labels)):
        G.add_edge(int(i), int(j), label=int(g.labels[i, j]))
    return G


@dataclass(frozen=True)
class GraphBatch:
    """Graphs padded to ``K`` nodes: ``attrs [N, K, 4] int8`` (-1 = no node), ``labels [N, K, K] uint8``,
    ``sizes [N] int64``."""

    attrs: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return int(self.sizes.shape[0])

    def subset(self, idx: slice | np.ndarray) -> GraphBatch:
        return GraphBatch(self.attrs[idx], self.labels[idx], self.sizes[idx])

    def digest(self) -> bytes:
        """Content hash input: identical graphs give identical bytes."""
        return b"".join(np.ascontiguousarray(a).tobytes() for a in (self.attrs, self.labels, self.sizes))


def pack(graphs: Sequence[SceneGraph] | GraphBatch, k: int = MAX_NODES) -> GraphBatch:
    """Pad graphs to ``k`` nodes (a :class:`GraphBatch` is returned unchanged)."""
    if isinstance(graphs, GraphBatch):
        return graphs
    n = len(graphs)
    attrs = np.full((n, k, len(ATTRS)), -1, dtype=np.int8)
    labels = np.zeros((n, k, k), dtype=np.uint8)
    sizes = np.zeros(n, dtype=np.int64)
    for b, g in enumerate(graphs):
        if g.n > k:
            raise InputError(f"graph {b} has {g.n} nodes, more than the supported {k}")
        attrs[b, : g.n] = g.attrs
        labels[b, : g.n, : g.n] = g.labels
        sizes[b] = g.n
    return GraphBatch(attrs, labels, sizes)
