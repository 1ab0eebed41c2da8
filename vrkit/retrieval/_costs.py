"""Edit costs of the R-CBIR graph edit distance, vectorised over padded graphs (private helpers of ged.py).

Graphs come padded to ``K`` nodes (see :class:`vrkit.retrieval.graphs.GraphBatch`): a padding node has
attribute codes ``-1`` and no edges, and stands for the empty node epsilon. An edit path is then a
permutation ``perm`` of ``range(K)``: node ``i`` of graph 1 goes to node ``perm[i]`` of graph 2
(real -> real: substitution, real -> pad: deletion, pad -> real: insertion, pad -> pad: nothing), and its
cost is::

    sum_i node_cost(a1[i], a2[perm[i]]) + sum_{i != j} [labels1[i, j] != labels2[perm[i], perm[j]]]

since a padding node has no edges, the edge term counts exactly the edge substitutions with a
different label, the deletions (every edge of graph 1 touching a deleted node or mapped onto a
non-edge) and the insertions, each at cost 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrkit.retrieval.graphs import ATTRS, VOCAB, GraphBatch

MODES = ("soft", "hard")
N_LABELS = 3  # edge labels 1 (right), 2 (front), 3 (both)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def node_cost(a1: np.ndarray, a2: np.ndarray, mode: str) -> np.ndarray:
    """Node edit cost of broadcastable attribute arrays ``[..., 4]`` -> ``[...]`` float64.

    real/real: ``soft`` = (number of differing attributes) / 4, ``hard`` = 1 if any differs;
    real/pad (deletion or insertion): 1; pad/pad: 0.
    """
    diff = (a1 != a2).sum(-1)
    sub = diff / a1.shape[-1] if mode == "soft" else (diff > 0).astype(np.float64)
    pad1, pad2 = a1[..., 0] < 0, a2[..., 0] < 0
    return np.where(pad1 & pad2, 0.0, np.where(pad1 | pad2, 1.0, sub))


def label_histograms(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-node counts of outgoing and incoming edges by label: ``labels [N, K, K]`` -> two ``[N, K, 3]``."""
    onehot = labels[..., None] == np.arange(1, N_LABELS + 1, dtype=labels.dtype)  # (N, K, K, 3)
    return onehot.sum(2, dtype=np.int16), onehot.sum(1, dtype=np.int16)


def local_edge_cost(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Optimal cost of editing one node's incident edges (one direction) into another's.

    ``h1 [..., 3]`` and ``h2 [..., 3]`` are label counts. With unit costs for substitution with another
    label, insertion and deletion, the best assignment of the two edge multisets keeps every matching
    label pair free and pays 1 for every other edge of the larger set: ``max(|e1|, |e2|) - sum_l min``.
    """
    return np.maximum(h1.sum(-1), h2.sum(-1)) - np.minimum(h1, h2).sum(-1)


def path_cost(a1: np.ndarray, l1: np.ndarray, a2: np.ndarray, l2: np.ndarray, perm: np.ndarray,
              mode: str) -> np.ndarray:
    """Cost of the edit paths ``perm [B, K]`` between padded graphs ``a [B, K, 4]``, ``l [B, K, K]`` -> ``[B]``.

    ``a1``/``l1`` may have a leading dimension of 1 (one graph against many).
    """
    b = np.arange(perm.shape[0])[:, None]
    a2p = a2[b, perm]  # (B, K, 4): graph-2 attributes seen from graph-1 nodes
    nodes = node_cost(a1, a2p, mode).sum(-1)
    l2p = l2[b[:, :, None], perm[:, :, None], perm[:, None, :]]  # (B, K, K)
    edges = np.count_nonzero(l1 != l2p, axis=(1, 2))
    return nodes + edges


@dataclass(frozen=True)
class Prepared:
    """A padded batch with the per-node codes of the Riesen–Bunke cost matrix, computed once per batch.

    ``onehot [N, K, F]``: one-hot attribute codes plus a padding flag worth 2 (so two padding nodes share 4
    "matches"); ``therm [N, K, 4 (K-1) + 2 (K-1)]``: thermometer codes of the out/in label counts and the
    out/in degrees (``therm(a) . therm(b) = min(a, b)``); ``degree [N, K]``: out + in degree.
    """

    batch: GraphBatch
    onehot: np.ndarray
    therm: np.ndarray
    degree: np.ndarray

    def __len__(self) -> int:
        return len(self.batch)

    def subset(self, idx: slice | np.ndarray) -> Prepared:
        return Prepared(self.batch.subset(idx), self.onehot[idx], self.therm[idx], self.degree[idx])

    def broadcast(self, n: int) -> Prepared:
        """A single graph seen as ``n`` copies (views, no copying)."""
        b = self.batch
        bb = GraphBatch(*(np.broadcast_to(x, (n, *x.shape[1:])) for x in (b.attrs, b.labels, b.sizes)))
        return Prepared(bb, *(np.broadcast_to(x, (n, *x.shape[1:])) for x in (self.onehot, self.therm, self.degree)))


def prepare(batch: GraphBatch) -> Prepared:
    k = batch.attrs.shape[1]
    parts = [batch.attrs[..., c, None] == np.arange(len(VOCAB[a])) for c, a in enumerate(ATTRS)]
    parts.append(2.0 * (batch.attrs[..., :1] < 0))
    onehot = np.concatenate(parts, -1).astype(np.float32)  # small integers: exact in float32
    out, inc = label_histograms(batch.labels)
    d_out, d_in = out.sum(-1, keepdims=True), inc.sum(-1, keepdims=True)
    levels = np.arange(max(k - 1, 1))

    def therm(h: np.ndarray) -> np.ndarray:
        return (h[..., None] > levels).reshape(*h.shape[:-1], -1)

    codes = np.concatenate([therm(out), therm(inc), therm(d_out), therm(d_in)], -1).astype(np.float32)
    return Prepared(batch, onehot, codes, (d_out + d_in)[..., 0].astype(np.float32))


def bp_costs(p1: Prepared, p2: Prepared, mode: str, edge_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Riesen–Bunke matrices of aligned pairs -> ``(cost [B, K, K], node_cost [B, K, K])``.

    ``node_cost`` equals :func:`node_cost`; ``cost = node_cost + edge_weight * (local_edge_cost(out) +
    local_edge_cost(in))``, both written as matrix products of the prepared codes:
    ``max(a, b) - sum_l min(a_l, b_l) = a + b - min(a, b) - sum_l min(a_l, b_l)``.
    """
    match = np.matmul(p1.onehot, p2.onehot.transpose(0, 2, 1))  # (B, K, K) equal attributes, 4 for pad/pad
    nc = 1.0 - match / 4.0 if mode == "soft" else (match < 3.5).astype(np.float64)
    if not edge_weight:
        return nc, nc
    mins = np.matmul(p1.therm, p2.therm.transpose(0, 2, 1))
    est = p1.degree[:, :, None] + p2.degree[:, None, :] - mins
    return nc + edge_weight * est, nc
