"""Graph edit distance between scene graphs: exact (small graphs) and Riesen–Bunke approximate.

Edit costs (docs/transfer.md, 'R-CBIR'; graphs as in :mod:`vrkit.retrieval.graphs`):

* node substitution: ``soft`` mode 1/4 per differing attribute among (shape, color, material, size);
  ``hard`` mode 1 if any attribute differs; 0 for identical nodes;
* node insertion / deletion: 1;
* edge ``i -> j`` (label 1 right, 2 front, 3 both): substitution by a different label 1 (mismatch),
  insertion 1, deletion 1 — i.e. every ordered node pair whose labels differ after the node mapping costs 1,
  and deleting/inserting a node also deletes/inserts each of its incident edges at 1 each.

Since a substitution never costs more than 1 plus its edge differences, an optimal edit path never
deletes a node and inserts another: it maps ``min(n1, n2)`` nodes. :func:`exact_ged` uses this and
enumerates the injections (graphs up to 8 nodes); :func:`exact_ged_networkx` asks networkx instead.

:func:`approx_ged` is the bipartite approximation of Riesen & Bunke: a ``K x K`` cost matrix (node cost
plus ``edge_weight`` times the optimal cost of matching the two nodes' incident edges by direction and
label) solved as a linear assignment (``scipy.optimize.linear_sum_assignment``), and the exact cost of
the edit path that assignment induces. By default that path is then improved by a vectorised 2-swap
descent (``refine_iter``; :mod:`vrkit.retrieval._refine`), which cuts the mean relative error from about
3 % to about 0.5 % (bench/rcbir_ged.py). Every result is the cost of a real edit path, so an upper
bound of the exact GED. Without ``symmetric=True`` the approximation is not exactly symmetric.

:func:`ged_table` computes query x gallery tables (per-graph codes computed once, cost matrices built
for a whole gallery with matrix products, one small ``linear_sum_assignment`` per pair, 2 worker
processes), cached on disk by content hash.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from vrkit.retrieval._costs import Prepared, bp_costs, check_mode, path_cost, prepare
from vrkit.retrieval._refine import refine
from vrkit.retrieval.graphs import GraphBatch, SceneGraph, pack, to_networkx
from vrkit.utils.atomic import atomic_path

EXACT_MAX_NODES = 8
DEFAULT_EDGE_WEIGHT = 0.5  # each edge is seen from both of its end nodes, so half of it goes to each
DEFAULT_REFINE = 10  # 2-swap rounds after Riesen–Bunke; converges in a few rounds on CLEVR graphs


@lru_cache(maxsize=16)
def _permutations(k: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(k))), dtype=np.intp).reshape(-1, k)


def exact_ged(g1: SceneGraph, g2: SceneGraph, mode: str = "soft", max_nodes: int = EXACT_MAX_NODES) -> float:
    """Exact GED by enumerating every edit path that maps ``min(n1, n2)`` nodes (``max(n1, n2)!`` paths).

    Raises ValueError when a graph has more than ``max_nodes`` nodes.
    """
    check_mode(mode)
    k = max(g1.n, g2.n)
    if k > max_nodes:
        raise ValueError(f"exact_ged enumerates {k}! edit paths; graphs are limited to {max_nodes} nodes")
    if k == 0:
        return 0.0
    b = pack([g1, g2], k)
    perms = _permutations(k)
    a2 = np.broadcast_to(b.attrs[1], (len(perms), k, b.attrs.shape[-1]))
    l2 = np.broadcast_to(b.labels[1], (len(perms), k, k))
    costs = path_cost(b.attrs[:1], b.labels[:1], a2, l2, perms, mode)
    return float(costs.min())


def _nx_costs(mode: str) -> dict:
    attrs = ("shape", "color", "material", "size")

    def subst(u: dict, v: dict) -> float:
        d = sum(u[a] != v[a] for a in attrs)
        return d / 4 if mode == "soft" else float(d > 0)

    return {
        "node_subst_cost": subst,
        "node_del_cost": lambda u: 1.0,
        "node_ins_cost": lambda v: 1.0,
        "edge_subst_cost": lambda e, f: float(e["label"] != f["label"]),
        "edge_del_cost": lambda e: 1.0,
        "edge_ins_cost": lambda f: 1.0,
    }


def exact_ged_networkx(g1: SceneGraph, g2: SceneGraph, mode: str = "soft", timeout: float | None = None) -> float:
    """GED from ``networkx.graph_edit_distance`` with the same costs (exact unless ``timeout`` cuts it short,
    then the best path found). The approximate GED is passed as the upper bound to prune the search."""
    import networkx as nx

    check_mode(mode)
    bound = approx_ged(g1, g2, mode)
    d = nx.graph_edit_distance(to_networkx(g1), to_networkx(g2), upper_bound=bound + 1e-9, timeout=timeout,
                               **_nx_costs(mode))
    return bound if d is None else float(d)


def bp_assign(p1: Prepared, p2: Prepared, mode: str, edge_weight: float = DEFAULT_EDGE_WEIGHT
              ) -> tuple[np.ndarray, np.ndarray]:
    """Riesen–Bunke assignments of aligned pairs -> ``(perm [B, K], node_costs [B, K, K])``.

    ``p1`` holds B graphs or one graph (broadcast against all of ``p2``).
    """
    if len(p1) == 1 and len(p2) != 1:
        p1 = p1.broadcast(len(p2))
    cost, nc = bp_costs(p1, p2, mode, edge_weight)
    bsz, k = cost.shape[0], cost.shape[1]
    perm = np.broadcast_to(np.arange(k), (bsz, k)).copy()
    kk = np.maximum(p1.batch.sizes, p2.batch.sizes)  # rows/cols beyond kk are pad/pad (free, identity)
    for b in range(bsz):
        m = kk[b]
        perm[b, :m] = linear_sum_assignment(cost[b, :m, :m])[1]
    return perm, nc


def _one_way(p1: Prepared, p2: Prepared, mode: str, edge_weight: float, refine_iter: int) -> np.ndarray:
    perm, nc = bp_assign(p1, p2, mode, edge_weight)
    g1, g2 = p1.batch, p2.batch
    if refine_iter:
        perm = refine(g1.labels, g2.labels, nc, perm, refine_iter)
    return path_cost(g1.attrs, g1.labels, g2.attrs, g2.labels, perm, mode)


def approx_ged_batch(g1: GraphBatch | Prepared, g2: GraphBatch | Prepared, mode: str = "soft",
                     edge_weight: float = DEFAULT_EDGE_WEIGHT, refine_iter: int = DEFAULT_REFINE,
                     symmetric: bool = False) -> np.ndarray:
    """Approximate GED of aligned pairs ``(g1[b], g2[b])`` -> ``[B]`` float64 (``g1`` may hold one graph).

    ``refine_iter`` rounds of 2-swap descent improve the Riesen–Bunke path (0 = plain Riesen–Bunke).
    ``symmetric=True`` also searches from ``g2`` to ``g1`` and keeps the cheaper path (a symmetric result,
    at twice the cost). Every value is the cost of an actual edit path: an upper bound of the exact GED.
    Batches may be given already prepared (:func:`vrkit.retrieval._costs.prepare`) to reuse their codes.
    """
    check_mode(mode)
    p1 = g1 if isinstance(g1, Prepared) else prepare(g1)
    p2 = g2 if isinstance(g2, Prepared) else prepare(g2)
    if p1.batch.attrs.shape[1] != p2.batch.attrs.shape[1]:
        raise ValueError("both batches must be padded to the same number of nodes")
    if len(p1) != len(p2) and len(p1) != 1:
        raise ValueError(f"batch sizes differ: {len(p1)} vs {len(p2)}")
    d = _one_way(p1, p2, mode, edge_weight, refine_iter)
    if symmetric:
        p1b = p1.broadcast(len(p2)) if len(p1) == 1 else p1
        d = np.minimum(d, _one_way(p2, p1b, mode, edge_weight, refine_iter))
    return d


def approx_ged(g1: SceneGraph, g2: SceneGraph, mode: str = "soft", **kw: Any) -> float:
    """Approximate (upper-bound) GED of one pair; keywords as :func:`approx_ged_batch`."""
    k = max(g1.n, g2.n, 1)
    return float(approx_ged_batch(pack([g1], k), pack([g2], k), mode, **kw)[0])


def approx_ged_pairs(g1: Sequence[SceneGraph] | GraphBatch, g2: Sequence[SceneGraph] | GraphBatch,
                     mode: str = "soft", **kw: Any) -> np.ndarray:
    """Approximate GED of aligned pairs given as graph lists (padded to 10 nodes) -> ``[B]``."""
    return approx_ged_batch(pack(g1), pack(g2), mode, **kw)


# --- query x gallery tables -------------------------------------------------------------------------------

TABLE_VERSION = "vrkit-rcbir-ged-1"  # bump when costs or the approximation change: invalidates caches
_WORKER: dict[str, Any] = {}
MIN_PARALLEL_PAIRS = 100_000  # smaller tables run in-process: spawning workers costs about a second


def table_key(queries: GraphBatch, gallery: GraphBatch, mode: str, **settings: Any) -> str:
    """sha256 hex of the graphs, the mode, the approximation settings and :data:`TABLE_VERSION`."""
    h = hashlib.sha256()
    h.update(repr((TABLE_VERSION, mode, sorted(settings.items()))).encode())
    for b in (queries, gallery):
        h.update(repr((b.attrs.shape, b.labels.shape)).encode())
        h.update(b.digest())
    return h.hexdigest()


def _rows(queries: GraphBatch, gallery: GraphBatch | Prepared, mode: str, settings: dict) -> np.ndarray:
    gallery = gallery if isinstance(gallery, Prepared) else prepare(gallery)
    queries = prepare(queries)
    out = np.empty((len(queries), len(gallery)), dtype=np.float32)
    for q in range(len(queries)):
        out[q] = approx_ged_batch(queries.subset(slice(q, q + 1)), gallery, mode, **settings)
    return out


def _init_worker(gallery: GraphBatch, mode: str, settings: dict) -> None:
    _WORKER.update(gallery=prepare(gallery), mode=mode, settings=settings)


def _worker_rows(queries: GraphBatch) -> np.ndarray:
    return _rows(queries, _WORKER["gallery"], _WORKER["mode"], _WORKER["settings"])


def ged_table(queries: Sequence[SceneGraph] | GraphBatch, gallery: Sequence[SceneGraph] | GraphBatch,
              mode: str = "soft", workers: int = 2, cache_dir: str | Path | None = None,
              edge_weight: float = DEFAULT_EDGE_WEIGHT, refine_iter: int = DEFAULT_REFINE,
              symmetric: bool = False, chunk: int = 8, progress: bool = False) -> np.ndarray:
    """Approximate GED of every query against every gallery graph -> ``[Q, G]`` float32.

    Rows are computed independently (``workers`` processes, spawned, ``chunk`` queries per task), so the
    table is the same whatever ``workers``; tables under :data:`MIN_PARALLEL_PAIRS` pairs run in-process.
    Spawned workers re-import the caller's main module: scripts must use an ``if __name__ == "__main__":``
    guard. With ``cache_dir`` the table is stored as
    ``ged-<mode>-<key>.npy`` (atomic write), ``key`` from :func:`table_key`, and loaded on the next call.
    """
    check_mode(mode)
    qb, gb = pack(queries), pack(gallery)
    if qb.attrs.shape[1] != gb.attrs.shape[1]:
        raise ValueError("queries and gallery must be padded to the same number of nodes")
    settings = {"edge_weight": float(edge_weight), "refine_iter": int(refine_iter), "symmetric": bool(symmetric)}
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"ged-{mode}-{table_key(qb, gb, mode, **settings)[:32]}.npy"
        if path.is_file():
            try:
                table = np.load(path)
                if table.shape == (len(qb), len(gb)):
                    return table
            except (OSError, ValueError):
                pass  # unreadable cache: recompute and overwrite
    starts = range(0, len(qb), max(1, chunk))
    parts = [qb.subset(slice(s, s + chunk)) for s in starts]
    bar = _progress(len(qb), progress)
    if workers <= 1 or len(parts) <= 1 or len(qb) * len(gb) < MIN_PARALLEL_PAIRS:
        gp = prepare(gb)
        rows = []
        for p in parts:
            rows.append(_rows(p, gp, mode, settings))
            bar.update(len(p))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(gb, mode, settings)) as pool:
            rows = []
            for p, r in zip(parts, pool.map(_worker_rows, parts), strict=True):
                rows.append(r)
                bar.update(len(p))
    bar.close()
    table = np.concatenate(rows, axis=0) if rows else np.zeros((0, len(gb)), dtype=np.float32)
    if path is not None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, table)
    return table


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc="GED table", unit="query")
