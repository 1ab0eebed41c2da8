"""Γ, the task-correlation matrix of zero-shot task transfer (Pal & Balasubramanian, "Zero-Shot Task Transfer",
CVPR 2019), over COG families, on the paper's scale −1 (negatively related) … +2 (strongly related).

``gamma[i, j]`` says how much known task ``i`` tells about task ``j`` (TTNet reads column ``j`` for target ``j``);
the diagonal is +2. Sources (docs/zeroshot.md):

* **ratings** — a YAML file of raters' votes on pairs of families, aggregated with Dawid–Skene (EM over each
  rater's confusion matrix), as the paper aggregates its crowd votes; a pair's Γ is the posterior mean rating;
* **structure** — operator overlap of the families' programs (Jaccard over operator and selection features,
  from the family templates) plus whether the answers are of one kind;
* **affinity** — measured transfer (Taskonomy-style): :func:`scale_gains` maps "accuracy on j after k examples
  starting from i's head, minus starting from a random head" onto the scale;
* **shuffled** — a real Γ with its family labels permuted: the control.

A Γ file (``--gamma-file``) is YAML ``{families: [...], matrix: [[...], ...]}``; :func:`write_gamma` writes
that format, so a measured Γ can be reused.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError

SCALE = (-1, 0, 1, 2)  # the paper's rating scale
LOW, HIGH = SCALE[0], SCALE[-1]


# -- Dawid–Skene ----------------------------------------------------------------------------------------------
def dawid_skene(votes: np.ndarray, n_classes: int, iters: int = 100, tol: float = 1e-6,
                smoothing: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dawid & Skene (1979) EM. ``votes`` is (items, raters) of class indices, -1 where a rater gave no vote.

    Returns (posterior (items, C), confusion (raters, C, C): P(vote l | true k), class prior (C,)). Starts from
    the per-item vote shares (soft majority vote); ``smoothing`` keeps unseen confusion cells off zero."""
    votes = np.asarray(votes, dtype=np.int64)
    n_items, n_raters = votes.shape
    if n_items == 0:
        raise ValueError("dawid_skene: no items")
    onehot = np.zeros((n_items, n_raters, n_classes))
    seen = votes >= 0
    ii, rr = np.nonzero(seen)
    onehot[ii, rr, votes[ii, rr]] = 1.0
    post = onehot.sum(1) + 1e-9
    post /= post.sum(1, keepdims=True)
    prev = None
    for _ in range(iters):
        prior = post.mean(0)
        conf = np.einsum("ik,irl->rkl", post, onehot) + smoothing
        conf /= conf.sum(2, keepdims=True)
        logp = np.log(prior + 1e-12)[None, :] + np.einsum("irl,rkl->ik", onehot, np.log(conf))
        logp -= logp.max(1, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(1, keepdims=True)
        if prev is not None and np.abs(post - prev).max() < tol:
            break
        prev = post
    return post, conf, prior


def read_ratings(path: str | Path, families: Sequence[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Γ over ``families`` from a ratings YAML: ``raters: {NAME: {FAMILY_A: {FAMILY_B: RATING}}}`` with ratings
    in −1…+2 (a pair is unordered; a rater may rate any subset). Pairs nobody rated get 0 (no information).
    Returns (Γ, info: raters, rated pairs, per-rater accuracy estimates)."""
    tree = _read_yaml(path)
    raters = tree.get("raters") if isinstance(tree, dict) else None
    if not isinstance(raters, dict) or not raters:
        raise InputError("a ratings file needs 'raters: {NAME: {FAMILY: {FAMILY: RATING}}}'", path)
    index = {f: i for i, f in enumerate(families)}
    pairs: dict[tuple[int, int], dict[int, int]] = {}
    names = list(raters)
    for r, name in enumerate(names):
        table = raters[name]
        if not isinstance(table, dict):
            raise InputError(f"rater {name!r}: expected a mapping FAMILY -> {{FAMILY: RATING}}", path)
        for a, row in table.items():
            if not isinstance(row, dict):
                raise InputError(f"rater {name!r}, {a}: expected a mapping FAMILY -> RATING", path)
            for b, value in row.items():
                for fam in (a, b):
                    if fam not in index:
                        raise InputError(f"rater {name!r}: unknown family {fam!r} (known: {', '.join(families)})",
                                         path)
                if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
                    raise InputError(f"rater {name!r}, {a}/{b}: rating {value!r} is not one of {list(SCALE)}", path)
                if a == b:
                    continue
                key = (min(index[a], index[b]), max(index[a], index[b]))
                pairs.setdefault(key, {})[r] = SCALE.index(value)
    gamma = np.zeros((len(families), len(families)))
    np.fill_diagonal(gamma, HIGH)
    info: dict[str, Any] = {"raters": names, "rated_pairs": len(pairs)}
    if pairs:
        keys = sorted(pairs)
        votes = np.full((len(keys), len(names)), -1)
        for n, key in enumerate(keys):
            for r, c in pairs[key].items():
                votes[n, r] = c
        post, conf, _ = dawid_skene(votes, len(SCALE))
        values = post @ np.asarray(SCALE, dtype=float)
        for (i, j), v in zip(keys, values, strict=True):
            gamma[i, j] = gamma[j, i] = v
        info["rater_accuracy"] = {n: round(float(np.trace(conf[r]) / len(SCALE)), 4) for r, n in enumerate(names)}
    return gamma, info


# -- Γ files --------------------------------------------------------------------------------------------------
def _read_yaml(path: str | Path) -> Any:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"not valid YAML ({type(err).__name__})", path) from None


def read_gamma(path: str | Path, families: Sequence[str]) -> np.ndarray:
    """Γ over ``families`` from ``{families: [...], matrix: [[...]]}`` (the file may list more families, in
    any order; every one of ``families`` must be there)."""
    tree = _read_yaml(path)
    if not isinstance(tree, dict) or not isinstance(tree.get("families"), list) or "matrix" not in tree:
        raise InputError("a Γ file needs 'families: [...]' and 'matrix: [[...], ...]'", path)
    names = [str(f) for f in tree["families"]]
    unknown = [f for f in names if f not in families]
    if unknown:
        raise InputError(f"unknown families {', '.join(unknown)} (known: {', '.join(families)})", path)
    missing = [f for f in families if f not in names]
    if missing:
        raise InputError(f"families missing from the Γ file: {', '.join(missing)}", path)
    try:
        m = np.asarray(tree["matrix"], dtype=float)
    except (TypeError, ValueError):
        raise InputError("matrix must be a list of rows of numbers", path) from None
    if m.shape != (len(names), len(names)):
        raise InputError(f"matrix has shape {tuple(m.shape)}, expected {len(names)} x {len(names)} "
                         f"(one row and column per listed family)", path)
    if not np.isfinite(m).all() or m.min() < LOW or m.max() > HIGH:
        raise InputError(f"matrix values must lie in the scale {LOW}…{HIGH} "
                         f"(found {np.nanmin(m):g}…{np.nanmax(m):g})", path)
    order = [names.index(f) for f in families]
    return m[np.ix_(order, order)]


def write_gamma(path: str | Path, families: Sequence[str], gamma: np.ndarray) -> Path:
    """Write Γ in the format :func:`read_gamma` reads (atomically)."""
    import yaml

    from vrkit.utils.atomic import atomic_write_text

    tree = {"families": list(families), "matrix": [[round(float(v), 4) for v in row] for row in gamma]}
    atomic_write_text(Path(path), yaml.safe_dump(tree, sort_keys=False, default_flow_style=None, width=200))
    return Path(path)


# -- structure, affinity, shuffled ----------------------------------------------------------------------------
def program_features(family: str, draws: int = 8) -> set[str]:
    """Operator features of a family's programs: node types, what each selection constrains (colour, shape,
    space, a colour/shape taken from another object), what a getter or comparison reads, and the answer kind;
    the union over ``draws`` programs drawn from the family's template."""
    from vrkit.worlds.cog.constants import FAMILY_RECORDS
    from vrkit.worlds.cog.families import TEMPLATES

    feats = {f"answer:{FAMILY_RECORDS[family].answer}"}

    def walk(node: Any) -> None:
        kind = type(node).__name__
        feats.add(f"op:{kind}")
        if kind == "Sel":
            for attr in ("color", "shape"):
                value = getattr(node, attr)
                if value is not None:
                    feats.add(f"sel:{attr}:{'constant' if isinstance(value, str) else 'operator'}")
            if node.space is not None:
                feats.add("sel:space")
            if node.when not in (None, "now"):
                feats.add("sel:memory")
        if hasattr(node, "domain"):
            feats.add(f"domain:{'color' if 'red' in node.domain else 'shape'}")
        for child in getattr(node, "children", ()):
            walk(child)

    for k in range(draws):
        walk(TEMPLATES[family](random.Random(k)))
    return feats


def structure_gamma(families: Sequence[str]) -> np.ndarray:
    """Γ from the programs: −1 + 3 · (Jaccard overlap of :func:`program_features` without the answer + same
    answer kind) / 2, so a family with itself is +2 and unrelated families of other answer kinds are −1."""
    feats = [program_features(f) for f in families]
    n = len(families)
    gamma = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ops_i = {f for f in feats[i] if not f.startswith("answer:")}
            ops_j = {f for f in feats[j] if not f.startswith("answer:")}
            jac = len(ops_i & ops_j) / max(1, len(ops_i | ops_j))
            same = float((feats[i] - ops_i) == (feats[j] - ops_j))
            gamma[i, j] = LOW + (HIGH - LOW) * (jac + same) / 2
    return gamma


def scale_gains(gains: np.ndarray) -> np.ndarray:
    """Transfer gains (``gains[i, j]``: what starting from i's head adds on j) mapped linearly onto −1…+2 over
    the off-diagonal entries; the diagonal is +2."""
    g = np.asarray(gains, dtype=float)
    off = ~np.eye(len(g), dtype=bool)
    lo, hi = g[off].min(), g[off].max()
    out = LOW + (HIGH - LOW) * (g - lo) / (hi - lo) if hi > lo else np.zeros_like(g)
    np.fill_diagonal(out, HIGH)
    return out


def shuffled(gamma: np.ndarray, seed: int) -> np.ndarray:
    """Γ with its family labels randomly permuted (rows and columns alike): the same values, wrong tasks."""
    perm = np.random.default_rng(seed).permutation(len(gamma))
    return np.asarray(gamma)[np.ix_(perm, perm)]
