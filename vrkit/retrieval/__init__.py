"""Relational content-based image retrieval (R-CBIR, docs/transfer.md): scene graphs, graph edit distance
ground truth and ranking metrics (imported here, numpy/scipy only). Feature indexes from trained models live in
:mod:`vrkit.retrieval.features` (``extract_index``, ``save_index``, ``load_index``), evaluation in
:mod:`vrkit.retrieval.evaluation` (``evaluate_indexes``) and queries in :mod:`vrkit.retrieval.query` (these import
torch, so they are not re-exported here)."""

from vrkit.retrieval.ged import (
    approx_ged,
    approx_ged_batch,
    approx_ged_pairs,
    exact_ged,
    exact_ged_networkx,
    ged_table,
)
from vrkit.retrieval.graphs import (
    GraphBatch,
    SceneGraph,
    load_scene_graphs,
    pack,
    scene_to_graph,
    scenes_to_graphs,
    to_networkx,
)
from vrkit.retrieval.metrics import (
    l2_distances,
    ndcg_at_k,
    random_ndcg_at_k,
    relevance_from_ged,
    spearman_per_query,
    summary,
)

__all__ = [
    "GraphBatch", "SceneGraph", "approx_ged", "approx_ged_batch", "approx_ged_pairs", "exact_ged",
    "exact_ged_networkx", "ged_table", "l2_distances", "load_scene_graphs", "ndcg_at_k", "pack",
    "random_ndcg_at_k", "relevance_from_ged", "scene_to_graph", "scenes_to_graphs", "spearman_per_query",
    "summary", "to_networkx",
]
