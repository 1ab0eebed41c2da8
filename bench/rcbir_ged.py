"""R-CBIR ground truth: time the approximate GED table and measure how close it is to the exact GED.

1. Closeness: ``--pairs`` random pairs of CLEVR-like scenes with 3-8 objects; exact GED by enumeration
   against plain Riesen–Bunke (``refine_iter=0``), the default (Riesen–Bunke + 2-swap descent) and the
   symmetric default, in both cost modes: mean absolute / relative error, share exact, upper-bound check.
2. Timing: ``ged_table`` (default settings, no cache) for ``--queries`` x ``--gallery`` random scenes with
   3-10 objects on ``--workers`` processes; plus plain Riesen–Bunke on the first ``--plain-queries`` rows.

Writes bench/results/rcbir_ged.json and prints it as one JSON line last.

    python bench/rcbir_ged.py [--queries 500 --gallery 5000 --workers 2 --pairs 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from vrkit.retrieval.ged import approx_ged_batch, exact_ged, ged_table  # noqa: E402
from vrkit.retrieval.graphs import pack, scenes_to_graphs  # noqa: E402
from vrkit.retrieval.metrics import spearman_per_query  # noqa: E402
from vrkit.retrieval.synthetic import random_scenes  # noqa: E402

VARIANTS = {"plain_rb": {"refine_iter": 0}, "default": {}, "default_symmetric": {"symmetric": True}}


def closeness(n_pairs: int, seed: int, max_objects: int) -> dict:
    gs = scenes_to_graphs(random_scenes(np.random.default_rng([seed, 1]), 2 * n_pairs, 3, max_objects))
    g1, g2 = gs[:n_pairs], gs[n_pairs:]
    out: dict = {"pairs": n_pairs, "objects": [3, max_objects]}
    for mode in ("soft", "hard"):
        t = time.perf_counter()
        exact = np.array([exact_ged(a, b, mode) for a, b in zip(g1, g2)])
        out[f"{mode}_exact_seconds"] = round(time.perf_counter() - t, 2)
        out[f"{mode}_mean_exact_ged"] = round(float(exact.mean()), 3)
        for name, kw in VARIANTS.items():
            approx = approx_ged_batch(pack(g1), pack(g2), mode, **kw)
            err = approx - exact
            out[f"{mode}_{name}"] = {
                "upper_bound_ok": bool(np.all(err >= -1e-9)),
                "mean_abs_error": round(float(err.mean()), 4),
                "max_abs_error": float(err.max()),
                "mean_rel_error": round(float(np.mean(err / np.maximum(exact, 1e-9))), 5),
                "frac_exact": round(float(np.mean(err == 0)), 3),
                "spearman_vs_exact": round(float(spearman_per_query(approx[None], exact[None])[0]), 5),
            }
    return out


def timing(n_q: int, n_g: int, workers: int, seed: int, plain_queries: int) -> dict:
    t = time.perf_counter()
    gs = scenes_to_graphs(random_scenes(np.random.default_rng([seed, 2]), n_q + n_g, 3, 10))
    gen_s = time.perf_counter() - t
    q, g = pack(gs[:n_q]), pack(gs[n_q:])
    out: dict = {"queries": n_q, "gallery": n_g, "workers": workers, "scene_generation_seconds": round(gen_s, 2)}
    for mode in ("soft",):
        t = time.perf_counter()
        table = ged_table(q, g, mode, workers=workers)
        sec = time.perf_counter() - t
        out[f"{mode}_table_seconds"] = round(sec, 2)
        out[f"{mode}_pairs_per_second"] = round(n_q * n_g / sec)
        out[f"{mode}_table_mean_ged"] = round(float(table.mean()), 3)
        if plain_queries:
            t = time.perf_counter()
            plain = ged_table(q.subset(slice(0, plain_queries)), g, mode, workers=workers, refine_iter=0)
            psec = time.perf_counter() - t
            out[f"{mode}_plain_rb_pairs_per_second"] = round(plain_queries * n_g / psec)
            out[f"{mode}_plain_rb_minus_default_mean"] = round(float((plain - table[:plain_queries]).mean()), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--gallery", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--max-objects", type=int, default=8, help="largest graph of the closeness pairs (<= 8)")
    ap.add_argument("--plain-queries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    result = {"closeness": closeness(args.pairs, args.seed, args.max_objects),
              "table": timing(args.queries, args.gallery, args.workers, args.seed, args.plain_queries),
              "note": "measured on a shared 2-core machine under load from other jobs"}
    write_result("rcbir_ged", result)


if __name__ == "__main__":
    main()
