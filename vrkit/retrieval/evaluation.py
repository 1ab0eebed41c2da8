"""R-CBIR evaluation of feature indexes against the GED ground truth, plus a random-ranking row.

Protocol: the indexed images are split once, from ``seed``, into ``queries`` query images and a disjoint
gallery of (at most) ``gallery`` images (:func:`split_queries`). For each GED mode (soft / hard) one
approximate GED table ``[Q, G]`` (:func:`vrkit.retrieval.ged.ged_table`, cached on disk) is shared by every
index — the indexes must describe the same images in the same order. Per index and mode: Spearman-rho
between L2 feature distances and GED per query, and nDCG@k with graded relevance from GED
(:func:`vrkit.retrieval.metrics.relevance_from_ged`); both as mean and standard deviation over queries.
The ``random`` row ranks the gallery by random distances (seeded) for Spearman, and gives the expected
nDCG@k of a uniformly random ranking (closed form).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.retrieval.features import FeatureIndex
from vrkit.retrieval.ged import ged_table
from vrkit.retrieval.metrics import (
    l2_distances,
    ndcg_at_k,
    random_ndcg_at_k,
    relevance_from_ged,
    spearman_per_query,
)
from vrkit.utils.atomic import atomic_write_text

MODES = ("soft", "hard")


def split_queries(n: int, queries: int, gallery: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (query positions [Q], gallery positions [G]) from a seeded permutation of ``n`` images.

    The gallery is cut to the ``n - queries`` images left when fewer than ``gallery`` remain.
    """
    if queries < 1 or gallery < 1:
        raise InputError(f"need at least one query and one gallery image (got {queries}, {gallery})")
    if queries >= n:
        raise InputError(f"{queries} queries leave no gallery among {n} indexed images")
    perm = np.random.default_rng([seed, n]).permutation(n)
    return perm[:queries], perm[queries:queries + min(gallery, n - queries)]


def check_same_images(indexes: Sequence[FeatureIndex]) -> None:
    """InputError unless every index holds the same images (file names and scene graphs) in the same order."""
    ref = indexes[0]
    for ix in indexes[1:]:
        same = (ix.filenames == ref.filenames and np.array_equal(ix.graphs.sizes, ref.graphs.sizes)
                and ix.graphs.digest() == ref.graphs.digest())
        if not same:
            raise InputError(f"indexes describe different images than {ref.path or ref.name}; "
                             "build every index on the same split", ix.path)


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}


def _metrics(dist: np.ndarray, ged: np.ndarray, rel: np.ndarray, ks: Sequence[int]) -> dict[str, Any]:
    out = {"spearman": _stats(spearman_per_query(dist, ged))}
    for k in ks:
        out[f"ndcg@{k}"] = _stats(ndcg_at_k(dist, rel, k))
    return out


def _names(indexes: Sequence[FeatureIndex]) -> list[str]:
    names = [ix.name for ix in indexes]
    for i, ix in enumerate(indexes):
        if names.count(ix.name) > 1:
            names[i] = f"{ix.name} [{ix.path.stem if ix.path else i}]"
    return names


def evaluate_indexes(indexes: Sequence[FeatureIndex], queries: int = 500, gallery: int = 5000,
                     modes: Sequence[str] = MODES, ks: Sequence[int] = (10, 100), seed: int = 0,
                     relevance: str = "linear", cache_dir: str | Path | None = None, workers: int = 2,
                     progress: bool = False, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Metrics of every index (and of a random ranking) per GED mode; see the module docstring.

    Returns ``{"queries", "gallery", "images", "seed", "ks", "relevance", "modes", "ged": {mode: {...}},
    "rows": [{"name", "index", "kind", "model", "dim", <mode>: {"spearman": {"mean", "std"},
    "ndcg@k": {...}}}, ...]}`` with the random row last.
    """
    if not indexes:
        raise InputError("no index to evaluate")
    for m in modes:
        if m not in MODES:
            raise InputError(f"unknown GED mode {m!r} (soft | hard)")
    check_same_images(indexes)
    q_idx, g_idx = split_queries(len(indexes[0]), queries, gallery, seed)
    graphs = indexes[0].graphs
    qg, gg = graphs.subset(q_idx), graphs.subset(g_idx)
    rows: list[dict[str, Any]] = []
    for name, ix in zip(_names(indexes), indexes, strict=True):
        rows.append({"name": name, "index": str(ix.path) if ix.path else None, "kind": ix.meta.get("kind"),
                     "model": ix.meta.get("model"), "dim": int(ix.features.shape[1]),
                     "_dist": l2_distances(ix.features[q_idx], ix.features[g_idx])})
    rows.append({"name": "random", "index": None, "kind": "random", "model": None, "dim": None})
    ged_info: dict[str, Any] = {}
    noise = np.random.default_rng([seed, 7]).random((len(q_idx), len(g_idx)))
    for mode in modes:
        t = time.perf_counter()
        ged = ged_table(qg, gg, mode, workers=workers, cache_dir=cache_dir, progress=progress)
        ged_info[mode] = {"seconds": round(time.perf_counter() - t, 2), "mean": float(ged.mean()),
                          "std": float(ged.std())}
        if log:
            log(f"GED table {mode}: {ged.shape[0]} x {ged.shape[1]} in {ged_info[mode]['seconds']} s")
        rel = relevance_from_ged(ged, relevance)
        for row in rows[:-1]:
            row[mode] = _metrics(row["_dist"], ged, rel, ks)
        rnd = {"spearman": _stats(spearman_per_query(noise, ged))}
        for k in ks:
            rnd[f"ndcg@{k}"] = _stats(random_ndcg_at_k(rel, k))
        rows[-1][mode] = rnd
    for row in rows:
        row.pop("_dist", None)
    return {"queries": int(len(q_idx)), "gallery": int(len(g_idx)), "images": len(indexes[0]), "seed": seed,
            "ks": [int(k) for k in ks], "relevance": relevance, "modes": list(modes), "ged": ged_info,
            "rows": rows}


def format_markdown(result: dict[str, Any], title: str = "R-CBIR") -> str:
    """One Markdown table per GED mode: Spearman-rho and nDCG@k as mean ± std over queries."""
    ks = result["ks"]
    lines = [f"# {title}: {result['queries']} queries x {result['gallery']} gallery images", "",
             f"Images indexed: {result['images']}; query/gallery split seed {result['seed']}; relevance for "
             f"nDCG: {result['relevance']} in the GED. Values: mean ± std over queries. "
             "Random: random distances (Spearman), expected value of a random ranking (nDCG).", ""]
    for mode in result["modes"]:
        g = result["ged"][mode]
        lines += [f"## {mode} GED (mean {g['mean']:.2f} ± {g['std']:.2f})", "",
                  "| features | model | dim | Spearman ρ | " + " | ".join(f"nDCG@{k}" for k in ks) + " |",
                  "|---|---|---:|---:|" + "---:|" * len(ks)]
        for row in result["rows"]:
            m = row[mode]
            cells = [f"{m['spearman']['mean']:.3f} ± {m['spearman']['std']:.3f}"]
            cells += [f"{m[f'ndcg@{k}']['mean']:.3f} ± {m[f'ndcg@{k}']['std']:.3f}" for k in ks]
            lines.append(f"| {row['name']} | {row['model'] or '—'} | {row['dim'] or '—'} | " + " | ".join(cells)
                         + " |")
        lines.append("")
    return "\n".join(lines)


def write_results(result: dict[str, Any], out_md: str | Path, title: str = "R-CBIR") -> tuple[Path, Path]:
    """``out_md`` (Markdown tables) and the same name with ``.json`` (the whole result), atomically."""
    md = Path(out_md)
    js = md.with_suffix(".json") if md.suffix != ".json" else md.with_name(md.name + ".result.json")
    atomic_write_text(md, format_markdown(result, title) + "\n")
    atomic_write_text(js, json.dumps(result, indent=1, sort_keys=True) + "\n")
    return md, js
