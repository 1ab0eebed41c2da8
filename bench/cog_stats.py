"""Per-family statistics of our COG generator against the original's
(docs/world-cog.md, 'Statistics against the original'; REF = 3,000 per family).

Checks the issue's tolerances on every cell: P(true) at the last frame within ±5 points, invalid share
per frame within ±3 points, mean objects within ±10 %. Writes bench/results/cog_stats.json.

    python bench/cog_stats.py [--n 3000] [--variants canonical,hard]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from vrkit.worlds.cog.constants import FAMILIES  # noqa: E402
from vrkit.worlds.cog.generator import generate_example, make_rng  # noqa: E402
from vrkit.worlds.cog.stats import collect, compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=3000, help="examples per family and variant")
    ap.add_argument("--variants", default="canonical,hard")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    result: dict = {"n_per_family": args.n, "seed": args.seed}
    for variant in args.variants.split(","):
        start = time.perf_counter()
        exs = []
        for fam in FAMILIES:
            rng = make_rng(args.seed, "stats", variant, fam)
            exs += [generate_example(fam, variant, rng) for _ in range(args.n)]
        rows = compare(collect(exs), variant)
        worst_z = 0.0
        for r in rows:
            if r.quantity != "objects":
                p = min(max(r.reference, 1e-3), 1 - 1e-3)
                worst_z = max(worst_z, abs(r.ours - r.reference) / math.sqrt(p * (1 - p) * (2 / args.n)))
        fails = [r for r in rows if not r.ok]
        result[variant] = {
            "cells": len(rows), "within_tolerance": len(rows) - len(fails),
            "failures": [{"family": r.family, "quantity": r.quantity, "ours": round(r.ours, 4),
                          "reference": r.reference} for r in fails],
            "max_abs_dev": {q: round(max(abs(r.ours - r.reference) for r in rows if r.quantity.startswith(q)), 4)
                            for q in ("p_true", "invalid")},
            "max_rel_dev_objects": round(max(abs(r.ours - r.reference) / r.reference
                                             for r in rows if r.quantity == "objects"), 4),
            "max_z_two_sample": round(worst_z, 2),
            "seconds": round(time.perf_counter() - start, 1),
        }
    write_result("cog_stats", result)


if __name__ == "__main__":
    main()
