"""R-CBIR metrics: Spearman-rho and nDCG@k against GED, random baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from vrkit.retrieval.metrics import (
    l2_distances,
    ndcg_at_k,
    random_ndcg_at_k,
    relevance_from_ged,
    spearman_per_query,
    summary,
)


def test_perfect_and_reversed_rankings():
    rng = np.random.default_rng(0)
    ged = np.stack([rng.permutation(30).astype(float) * 0.25 for _ in range(5)])
    rel = relevance_from_ged(ged)
    np.testing.assert_allclose(spearman_per_query(ged * 3 + 1, ged), 1.0)
    np.testing.assert_allclose(spearman_per_query(-ged, ged), -1.0)
    np.testing.assert_allclose(ndcg_at_k(ged, rel, 10), 1.0)
    assert np.all(ndcg_at_k(-ged, rel, 10) < 0.5)
    s = summary(ged, ged, ks=(5,))
    assert s["spearman"] == pytest.approx(1.0) and s["ndcg@5"] == pytest.approx(1.0)
    assert s["random_ndcg@5"] < 1.0 and abs(s["random_spearman"]) < 0.3


def test_ndcg_hand_computed():
    # retrieved order has relevance [3, 2, 3, 0, 1, 2]; the ideal order is [3, 3, 2, 2, 1, 0]
    rel = np.array([[3.0, 2.0, 3.0, 0.0, 1.0, 2.0]])
    dist = np.arange(6.0)[None]
    dcg = 3 + 2 / math.log2(3) + 3 / 2 + 0 + 1 / math.log2(6) + 2 / math.log2(7)
    idcg = 3 + 3 / math.log2(3) + 2 / 2 + 2 / math.log2(5) + 1 / math.log2(6) + 0
    assert ndcg_at_k(dist, rel, 6)[0] == pytest.approx(dcg / idcg)
    assert ndcg_at_k(dist, rel, 6)[0] == pytest.approx(0.9608, abs=1e-4)
    assert ndcg_at_k(dist, rel, 2)[0] == pytest.approx((3 + 2 / math.log2(3)) / (3 + 3 / math.log2(3)))
    assert np.isnan(ndcg_at_k(dist, np.zeros((1, 6)), 3)[0])


def test_ndcg_matches_torchmetrics():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.retrieval")
    rng = np.random.default_rng(1)
    dist = rng.random((4, 40))  # no ties
    rel = rng.integers(0, 5, size=(4, 40)).astype(float)
    ours = ndcg_at_k(dist, rel, 10)
    for q in range(4):
        ref = tm.retrieval_normalized_dcg(torch.tensor(-dist[q]), torch.tensor(rel[q], dtype=torch.long), top_k=10)
        assert ours[q] == pytest.approx(float(ref), abs=1e-6)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(2)
    ged = rng.integers(0, 6, size=(3, 50)) * 0.25
    dist = rng.random((3, 50)) + ged
    ours = spearman_per_query(dist, ged)
    for q in range(3):
        assert ours[q] == pytest.approx(spearmanr(dist[q], ged[q]).statistic)
    assert np.isnan(spearman_per_query(dist[:1], np.ones((1, 50)))[0])


def test_relevance_mappings():
    ged = np.array([[0.0, 1.5, 4.0, 2.0]])
    np.testing.assert_allclose(relevance_from_ged(ged), [[4.0, 2.5, 0.0, 2.0]])
    np.testing.assert_allclose(relevance_from_ged(ged, "exp", 2.0), np.exp(-ged / 2.0))
    with pytest.raises(ValueError):
        relevance_from_ged(ged, "log")


def test_random_baseline_matches_sampled_rankings():
    rng = np.random.default_rng(3)
    rel = relevance_from_ged(rng.integers(0, 40, size=(2, 25)) * 0.25)
    sampled = np.mean([ndcg_at_k(rng.random(rel.shape), rel, 5) for _ in range(3000)], axis=0)
    np.testing.assert_allclose(random_ndcg_at_k(rel, 5), sampled, atol=0.01)


def test_l2_distances():
    rng = np.random.default_rng(4)
    q, g = rng.normal(size=(3, 7)), rng.normal(size=(5, 7))
    ref = np.linalg.norm(q[:, None] - g[None], axis=-1)
    np.testing.assert_allclose(l2_distances(q, g), ref, atol=1e-9)
