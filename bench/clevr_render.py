"""Benchmark the numpy CLEVR renderer (vrkit.worlds.clevr.render.render_scene).

Renders --n scenes from the official-engine sample (../shared/data/clevr-official-engine-sample/scenes.json,
cycled) at --width x --height, in one process and in --workers processes (one chunk of scenes each), over
--rounds rounds, keeping the best round (least disturbed by other jobs on a shared machine). Also reports
the CPU time per image of the single process, which is less sensitive to load than wall time.

Writes bench/results/clevr_render.json; prints one JSON line last (``images_per_s`` = best multi-process
wall-clock rate).

    .venv/bin/python bench/clevr_render.py [--n 200] [--width 128] [--height 128] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: the work is per-image
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vrkit.utils.atomic import atomic_write_text  # noqa: E402
from vrkit.worlds.clevr.render import render_scene  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "clevr-official-engine-sample" / "scenes.json"


def _render_chunk(args: tuple[list[dict], int, int]) -> float:
    scenes, w, h = args
    t0 = time.process_time()
    for s in scenes:
        render_scene(s, w, h)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if not SAMPLE.is_file():
        raise SystemExit(f"official sample not found at {SAMPLE}")
    pool_scenes = json.loads(SAMPLE.read_text())["scenes"]
    scenes = list(itertools.islice(itertools.cycle(pool_scenes), args.n))
    w, h = args.width, args.height
    for s in scenes[:3]:  # warm-up (imports, caches)
        render_scene(s, w, h)
    t_start = time.perf_counter()
    best_single, best_multi, best_cpu = float("inf"), float("inf"), float("inf")
    k = max(1, args.workers)
    chunks = [(scenes[i::k], w, h) for i in range(k)]
    ctx = mp.get_context("fork")
    with ctx.Pool(k) as pool:
        pool.map(_render_chunk, [(c[0][:2], w, h) for c in chunks])  # warm the workers
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            cpu = _render_chunk((scenes, w, h))
            best_single = min(best_single, time.perf_counter() - t0)
            best_cpu = min(best_cpu, cpu)
            t0 = time.perf_counter()
            pool.map(_render_chunk, chunks)
            best_multi = min(best_multi, time.perf_counter() - t0)
    out = {
        "bench": "clevr_render",
        "width": w,
        "height": h,
        "images": args.n,
        "workers": k,
        "rounds": args.rounds,
        "images_per_s": round(args.n / best_multi, 1),
        "images_per_s_1proc": round(args.n / best_single, 1),
        "images_per_cpu_s_1proc": round(args.n / best_cpu, 1),
        "ms_per_image_cpu": round(1000 * best_cpu / args.n, 2),
        "images_per_s_est_idle": round(k * args.n / best_cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "source": "clevr-official-engine-sample scenes.json, cycled",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "note": "best of rounds on a shared 2-core machine (other jobs running); images_per_s uses --workers "
                "processes (wall clock), images_per_cpu_s_1proc is the single-process rate per CPU-second and "
                "images_per_s_est_idle = workers x that rate (what idle cores would give)",
    }
    path = REPO / "bench" / "results" / "clevr_render.json"
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
