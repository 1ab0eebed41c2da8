"""Benchmark the COG renderer: the reference algorithm (per-object OpenCV on float32) vs the fast sprite path.

Examples come from the official sample (../shared/data/cog-official-sample/val_{4_3_1,8_7_10}, 2,200 each),
cycled up to --n. Methods are interleaved over --rounds rounds and the best round is kept, which is the least
disturbed by other processes on a shared machine. Before timing, the fast outputs are checked to be
pixel-identical to the reference on every example used.

Writes bench/results/cog_render.json; prints one JSON line last.

    .venv/bin/python bench/cog_render.py [--n 2000] [--size 112] [--batch 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vrkit.utils.atomic import atomic_write_text  # noqa: E402
from vrkit.worlds.cog.constants import FAMILIES, VARIANTS  # noqa: E402
from vrkit.worlds.cog.io import read_file  # noqa: E402
from vrkit.worlds.cog.render import (  # noqa: E402
    render_batch,
    render_example,
    render_example_reference,
    render_into,
)

SAMPLE = REPO.parent / "shared" / "data" / "cog-official-sample"


def load_examples(variant: str, n: int) -> list[dict]:
    suffix = VARIANTS[variant].suffix
    pool = [ex for fam in FAMILIES for ex in read_file(SAMPLE / f"val_{suffix}" / f"cog_{fam}.json.gz")]
    return list(itertools.islice(itertools.cycle(pool), n))


def methods(examples: list[dict], size: int, batch: int) -> dict:
    T = max(ex["epochs"] for ex in examples)
    buf = np.zeros((batch, T, size, size, 3), dtype=np.uint8)

    def reference() -> None:
        for ex in examples:
            render_example_reference(ex, size)

    def fast_single() -> None:
        for ex in examples:
            render_example(ex, size)

    def fast_batch() -> None:
        for i in range(0, len(examples), batch):
            render_batch(examples[i: i + batch], size)

    def fast_into() -> None:  # a data loader refilling one preallocated (B, T, S, S, 3) buffer
        for i in range(0, len(examples), batch):
            chunk = examples[i: i + batch]
            render_into(chunk, buf[: len(chunk)])

    return {"reference": reference, "fast_single": fast_single, "fast_batch": fast_batch, "fast_into": fast_into}


def check_identical(examples: list[dict], size: int, batch: int) -> int:
    """Number of examples compared (raises on the first mismatch)."""
    uniq = examples[: min(len(examples), 2200)]
    for i in range(0, len(uniq), batch):
        chunk = uniq[i: i + batch]
        for ex, fast in zip(chunk, render_batch(chunk, size)):
            if not np.array_equal(fast, render_example_reference(ex, size)):
                raise SystemExit(f"fast != reference on an example of {ex['family']}")
    return len(uniq)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="examples per variant (default 2000)")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-check", action="store_true", help="skip the pixel-identity check")
    args = ap.parse_args()
    if not SAMPLE.is_dir():
        raise SystemExit(f"official sample not found at {SAMPLE}")
    t_start = time.perf_counter()
    results: dict = {}
    for variant in ("canonical", "hard"):
        examples = load_examples(variant, args.n)
        checked = 0 if args.no_check else check_identical(examples, args.size, args.batch)
        fns = methods(examples, args.size, args.batch)
        wall = {name: float("inf") for name in fns}
        cpu = dict(wall)
        for _ in range(args.rounds):
            for name, fn in fns.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall[name] = min(wall[name], time.perf_counter() - t0)
                cpu[name] = min(cpu[name], time.process_time() - c0)
        rate = {name: round(len(examples) / t, 1) for name, t in wall.items()}
        cpu_rate = {name: round(len(examples) / max(t, 1e-9), 1) for name, t in cpu.items()}
        results[variant] = {
            "examples": len(examples),
            "identical_checked": checked,
            "examples_per_s": rate,
            "speedup": {name: round(rate[name] / rate["reference"], 2) for name in rate if name != "reference"},
            "cpu_examples_per_s": cpu_rate,
            "cpu_speedup": {name: round(cpu_rate[name] / cpu_rate["reference"], 2)
                            for name in cpu_rate if name != "reference"},
        }
    out = {
        "bench": "cog_render",
        "size": args.size,
        "batch": args.batch,
        "rounds": args.rounds,
        "source": "official sample val files, cycled",
        "results": results,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "note": "best of interleaved rounds on a shared 2-core machine (other jobs running); cpu_* use process "
                "CPU time, less disturbed by other processes than wall time",
    }
    path = REPO / "bench" / "results" / "cog_render.json"
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
