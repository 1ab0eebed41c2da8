"""R-CBIR ranking metrics against the GED ground truth (docs/transfer.md, 'R-CBIR'): Spearman-rho and nDCG@k.

Arrays are ``[Q, G]``: row q holds, for query q, the feature distance (lower = retrieved earlier) or the GED
(lower = more similar) to every gallery item. Per-query values are returned as ``[Q]``; ``summary`` averages
over queries (ignoring NaN rows).

Ranking: gallery items are sorted by ascending distance; equal distances keep gallery order (stable sort).

Graded relevance from GED (:func:`relevance_from_ged`):

* ``"linear"`` (default): ``rel[q, g] = max_g' GED[q, g'] - GED[q, g]`` — the farthest item of a query
  gets 0, an identical scene gets the query's largest GED;
* ``"exp"``: ``rel = exp(-GED / scale)`` — 1 for an identical scene, fading with the distance.

nDCG@k uses linear gains: ``DCG@k = sum_{r=1..k} rel_(r) / log2(r + 1)`` over the retrieved order, divided by
the same sum over the relevance sorted in decreasing order (the ideal ranking). A query whose relevances are
all 0 has no ideal ranking and gets NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def l2_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Euclidean distances of features ``queries [Q, D]`` to ``gallery [G, D]`` -> ``[Q, G]`` float64."""
    q, g = np.asarray(queries, dtype=np.float64), np.asarray(gallery, dtype=np.float64)
    d2 = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    return np.sqrt(np.maximum(d2, 0.0))


def spearman_per_query(dist: np.ndarray, ged: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between ``dist [Q, G]`` and ``ged [Q, G]`` for every row -> ``[Q]``.

    Ties get average ranks (as ``scipy.stats.spearmanr``); a row where either input is constant gives NaN.
    """
    r1 = rankdata(np.asarray(dist, dtype=np.float64), axis=1)
    r2 = rankdata(np.asarray(ged, dtype=np.float64), axis=1)
    r1 -= r1.mean(1, keepdims=True)
    r2 -= r2.mean(1, keepdims=True)
    den = np.sqrt((r1 * r1).sum(1) * (r2 * r2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (r1 * r2).sum(1) / den
    return np.where(den > 0, rho, np.nan)


def relevance_from_ged(ged: np.ndarray, kind: str = "linear", scale: float = 1.0) -> np.ndarray:
    """Graded relevance ``[Q, G]`` from ``ged [Q, G]`` (see the module docstring for the two mappings)."""
    ged = np.asarray(ged, dtype=np.float64)
    if kind == "linear":
        return ged.max(1, keepdims=True) - ged
    if kind == "exp":
        return np.exp(-ged / scale)
    raise ValueError(f"relevance kind must be 'linear' or 'exp', got {kind!r}")


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _ideal_dcg(rel: np.ndarray, k: int) -> np.ndarray:
    ideal = -np.sort(-rel, axis=1)[:, :k]
    return ideal @ _discounts(ideal.shape[1])


def ndcg_at_k(dist: np.ndarray, relevance: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k of the rankings by ascending ``dist [Q, G]`` with graded ``relevance [Q, G]`` (>= 0) -> ``[Q]``."""
    dist, rel = np.asarray(dist, dtype=np.float64), np.asarray(relevance, dtype=np.float64)
    if dist.shape != rel.shape or dist.ndim != 2:
        raise ValueError(f"dist and relevance must be [Q, G] of the same shape, got {dist.shape}, {rel.shape}")
    k = min(int(k), dist.shape[1])
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    dcg = np.take_along_axis(rel, order, axis=1) @ _discounts(k)
    idcg = _ideal_dcg(rel, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / idcg, np.nan)


def random_ndcg_at_k(relevance: np.ndarray, k: int) -> np.ndarray:
    """Expected nDCG@k of a uniformly random ranking -> ``[Q]`` (closed form: every position holds the mean
    relevance of the row in expectation)."""
    rel = np.asarray(relevance, dtype=np.float64)
    k = min(int(k), rel.shape[1])
    idcg = _ideal_dcg(rel, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, rel.mean(1) * _discounts(k).sum() / idcg, np.nan)


def summary(dist: np.ndarray, ged: np.ndarray, ks: Sequence[int] = (10, 100), relevance: str = "linear",
            scale: float = 1.0, seed: int = 0) -> dict[str, float]:
    """Query-averaged metrics of one feature ranking plus the random-ranking baseline.

    Keys: ``spearman``, ``ndcg@k`` for each k, ``random_ndcg@k`` (expected value, closed form) and
    ``random_spearman`` (random distances drawn from ``seed``; 0 in expectation).
    """
    rel = relevance_from_ged(ged, relevance, scale)
    out = {"spearman": float(np.nanmean(spearman_per_query(dist, ged)))}
    for k in ks:
        out[f"ndcg@{k}"] = float(np.nanmean(ndcg_at_k(dist, rel, k)))
        out[f"random_ndcg@{k}"] = float(np.nanmean(random_ndcg_at_k(rel, k)))
    noise = np.random.default_rng(seed).random(np.shape(ged))
    out["random_spearman"] = float(np.nanmean(spearman_per_query(noise, ged)))
    return out
