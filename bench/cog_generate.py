"""COG generation speed: examples/s single-process (generation + JSON) and scaling with --workers.

Reference (issue [1]): the original generator, single process on this machine, ~530 examples/s canonical
and ~98/s hard (generation + JSON). Goal: >= 10x.

    python bench/cog_generate.py [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from vrkit.worlds.cog.constants import FAMILIES, VARIANTS  # noqa: E402
from vrkit.worlds.cog.generator import generate_example, make_rng  # noqa: E402
from vrkit.worlds.cog.io import dumps  # noqa: E402
from vrkit.worlds.cog.writer import GenerateConfig, generate_dataset  # noqa: E402

REFERENCE = {"canonical": 530.0, "hard": 98.0}


def single_process(variant: str, seconds: float) -> dict:
    rng = make_rng(0, "bench", variant)
    n, start = 0, time.perf_counter()
    cpu0 = time.process_time()
    while time.perf_counter() - start < seconds:
        for fam in FAMILIES:  # every family equally, as in the official files
            dumps(generate_example(fam, variant, rng))
        n += len(FAMILIES)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {"examples": n, "seconds": round(wall, 3), "examples_per_s": round(n / wall, 1),
            "examples_per_cpu_s": round(n / cpu, 1), "speedup_vs_original": round(n / wall / REFERENCE[variant], 2)}


def scaling(variant: str, n_per_family: int, workers: int) -> dict:
    out = {}
    for w in sorted({1, workers}):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = GenerateConfig(VARIANTS[variant], variant, n_per_family=n_per_family, seed=0, out=tmp,
                                 train_files=4, workers=w)
            start = time.perf_counter()
            m = generate_dataset(cfg)
            wall = time.perf_counter() - start
        out[f"workers_{w}"] = {"examples": m["examples"], "seconds": round(wall, 2),
                               "examples_per_s": round(m["examples"] / wall, 1)}
    if workers > 1:
        out["scaling"] = round(out[f"workers_{workers}"]["examples_per_s"] / out["workers_1"]["examples_per_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0, help="per variant, single-process measurement")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-per-family", type=int, default=200, help="for the writer scaling run (canonical)")
    args = ap.parse_args()
    result = {"reference_examples_per_s": REFERENCE}
    for variant in ("canonical", "hard"):
        result[variant] = single_process(variant, args.seconds)
    result["writer_canonical_gzip9"] = scaling("canonical", args.n_per_family, args.workers)
    result["writer_hard_gzip9"] = scaling("hard", max(args.n_per_family // 4, 8), args.workers)
    result["examples_per_s"] = {v: result[v]["examples_per_s"] for v in ("canonical", "hard")}
    write_result("cog_generate", result)


if __name__ == "__main__":
    main()
