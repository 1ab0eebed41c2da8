"""Vectorised 2-swap local search on edit paths (private helper of ged.py).

Starting from assignments ``perm [B, K]`` (e.g. Riesen–Bunke), repeatedly apply, for every pair at once,
the swap ``perm[a] <-> perm[b]`` that lowers the exact edit-path cost most, until no swap helps or
``max_iter`` rounds have run. Every result is still the cost of a real edit path, so an upper bound.

Cost change of swapping ``a, b`` with ``A = labels1``, ``M[i, j] = labels2[perm[i], perm[j]]`` and
``D = [A != M]`` (both with zero diagonals): the entries of rows and columns ``a, b`` change. With
``R[a, b] = sum_j [A[a, j] != M[b, j]]`` and ``C[a, b] = sum_i [A[i, a] != M[i, b]]``::

    new = R[a,b] + R[b,a] + C[a,b] + C[b,a] - 2 ([M_ab != 0] + [M_ba != 0] + [A_ab != 0] + [A_ba != 0])
          + [A_ab != M_ba] + [A_ba != M_ab]
    old = rowD[a] + rowD[b] + colD[a] + colD[b] - D_ab - D_ba

plus the node-cost change ``nc[a, perm[b]] + nc[b, perm[a]] - nc[a, perm[a]] - nc[b, perm[b]]``.
"""

from __future__ import annotations

import numpy as np

_LEVELS = np.arange(4, dtype=np.uint8)  # edge labels 0 (none), 1, 2, 3


def _onehot(labels: np.ndarray) -> np.ndarray:
    return (labels[..., None] == _LEVELS).astype(np.float32)


def swap_deltas(l1: np.ndarray, l2: np.ndarray, nc: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Cost change of every swap: ``l1 [B|1, K, K]``, ``l2 [B, K, K]``, ``nc [B, K, K]`` (node cost of
    graph-1 node i -> graph-2 node j), ``perm [B, K]`` -> ``[B, K, K]`` (``[b, a, c]`` = swap a, c)."""
    bsz, k = perm.shape
    bi = np.arange(bsz)[:, None]
    A = np.broadcast_to(l1, (bsz, k, k))
    M = l2[bi[:, :, None], perm[:, :, None], perm[:, None, :]]  # (B, K, K)
    D = A != M
    # R[a, b] = K - sum_{j, l} [A_aj = l][M_bj = l], C likewise on columns: products of one-hot codes
    oa, om = _onehot(l1), _onehot(M)  # (B|1, K, K, L)
    R = k - np.matmul(oa.reshape(oa.shape[0], k, -1), om.reshape(bsz, k, -1).transpose(0, 2, 1))
    C = k - np.matmul(oa.transpose(0, 2, 1, 3).reshape(oa.shape[0], k, -1),
                      om.transpose(0, 2, 1, 3).reshape(bsz, k, -1).transpose(0, 2, 1))
    nzM, nzA = M != 0, A != 0
    MT, AT = M.transpose(0, 2, 1), A.transpose(0, 2, 1)
    new = (R + R.transpose(0, 2, 1) + C + C.transpose(0, 2, 1)
           - 2 * (nzM.astype(np.int16) + nzM.transpose(0, 2, 1) + nzA + nzA.transpose(0, 2, 1))
           + (A != MT) + (AT != M))
    rowD, colD = D.sum(2, dtype=np.int16), D.sum(1, dtype=np.int16)
    rc = rowD + colD  # (B, K)
    old = rc[:, :, None] + rc[:, None, :] - D - D.transpose(0, 2, 1)
    ncp = nc[bi, :, perm].transpose(0, 2, 1)  # (B, a, c) = nc[a, perm[c]]
    diag = np.diagonal(ncp, axis1=1, axis2=2)  # nc[a, perm[a]]
    node = ncp + ncp.transpose(0, 2, 1) - diag[:, :, None] - diag[:, None, :]
    delta = node + (new - old)
    idx = np.arange(k)
    delta[:, idx, idx] = 0.0
    return delta


def refine(l1: np.ndarray, l2: np.ndarray, nc: np.ndarray, perm: np.ndarray, max_iter: int = 10) -> np.ndarray:
    """Best-improvement 2-swap descent on ``perm [B, K]`` (returns a new array); shapes as in
    :func:`swap_deltas`."""
    perm = perm.copy()
    active = np.arange(perm.shape[0])
    for _ in range(max_iter):
        if not len(active):
            break
        sub_l1 = l1 if l1.shape[0] == 1 else l1[active]
        delta = swap_deltas(sub_l1, l2[active], nc[active], perm[active])
        flat = delta.reshape(len(active), -1)
        best = flat.argmin(1)
        improve = flat[np.arange(len(active)), best] < -1e-9
        active = active[improve]
        a, c = np.divmod(best[improve], perm.shape[1])
        pa = perm[active, a]
        perm[active, a] = perm[active, c]
        perm[active, c] = pa
    return perm
