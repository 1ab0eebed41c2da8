"""Thread policy check: the training step with threads ∈ {1, 2, auto} beside an idle core, a busy loop and a mix
of short jobs, for SAMNet on the state path (fp32) and the pixel path (bf16), batch 48.

    .venv/bin/python bench/thread_policy.py            # ~4-6 minutes; writes bench/results/thread_policy.json

Every cell is a fresh ``bench/train_step.py --no-write --threads T --busy B --seconds S`` process (a fresh
process, because OpenMP's pool and torch's thread settings are per process, and a clean heap per cell). The
figure is ``samples_per_s_overall`` (batch × timed steps / their total time: what a training run would see,
slow outlier steps included). Ratios are against the same path's idle single-thread cell; the goal for the
default policy (``auto``) is a ratio >= 0.8 with another job on one core. Cells run one after another, never
two multi-threaded measurements side by side; each records the 1-minute load average before and after (the
machine is shared: a load above ~0.5 before the idle cells means someone else was busy too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from _common import write_result  # noqa: E402

CASES = {"state": ("state", "fp32"), "pixels": ("pixels", "bf16")}  # name -> (path, precision)
THREADS = ("1", "2", "auto")
LOADS = ("none", "loop", "mix")
GOAL = 0.8


def run_cell(case: str, threads: str, busy: str, seconds: float, timeout: float) -> dict:
    """One train_step measurement in a fresh process; a cell that does not finish in ``timeout`` seconds is
    recorded as such (an upper bound on its speed) instead of stalling the whole benchmark."""
    path, precision = CASES[case]
    cmd = [sys.executable, str(REPO / "bench" / "train_step.py"), "--model", "samnet", "--path", path,
           "--precision", precision, "--batch", "48", "--steps", "1000", "--seconds", str(seconds),
           "--threads", threads, "--busy", busy, "--no-write"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "VRKIT_THREADS")}
    cell = {"case": case, "path": path, "precision": precision, "threads_flag": threads, "busy": busy}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:  # train_step's BusyCore is killed with its process group by run()
        return {**cell, "timed_out": True, "wall_s": round(time.perf_counter() - t0, 1),
                "samples_per_s_overall": None, "loadavg_1m_after": round(os.getloadavg()[0], 2)}
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    keep = ("threads", "threads_source", "interop_threads", "samples_per_s", "samples_per_s_overall",
            "timed_steps", "step_s_median", "warmup_s", "loadavg_1m_before", "loadavg_1m_after")
    return {**cell, **{k: res[k] for k in keep}, "wall_s": round(time.perf_counter() - t0, 1)}


def ratios(cells: list[dict]) -> dict[str, dict[str, dict[str, float | None]]]:
    """case -> busy -> threads flag -> samples/s relative to the case's idle single-thread cell."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for case in {c["case"] for c in cells}:
        base = next(c["samples_per_s_overall"] for c in cells
                    if c["case"] == case and c["busy"] == "none" and c["threads_flag"] == "1")
        for c in cells:
            if c["case"] == case:
                v = c["samples_per_s_overall"]
                out.setdefault(case, {}).setdefault(c["busy"], {})[c["threads_flag"]] = (
                    None if v is None or not base else round(v / base, 3))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="state,pixels", help="comma list of: " + ", ".join(CASES))
    ap.add_argument("--state-seconds", type=float, default=4.0, help="timed seconds per state-path cell")
    ap.add_argument("--pixels-seconds", type=float, default=6.0, help="timed seconds per pixel-path cell")
    ap.add_argument("--timeout", type=float, default=60.0, help="give up on a cell after this many seconds")
    ap.add_argument("--tag", default="thread_policy", help="results file name (bench/results/<tag>.json)")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        ap.error(f"unknown case(s) {', '.join(sorted(unknown))} (known: {', '.join(CASES)})")
    load_start = round(os.getloadavg()[0], 2)
    cells = []
    t0 = time.perf_counter()
    for case in cases:
        seconds = args.state_seconds if case == "state" else args.pixels_seconds
        for busy in LOADS:
            for threads in THREADS:
                cell = run_cell(case, threads, busy, seconds, args.timeout)
                print(json.dumps(cell), file=sys.stderr, flush=True)
                cells.append(cell)
    table = ratios(cells)
    default_ok = all((table[c][b]["auto"] or 0) >= GOAL for c in table for b in LOADS)
    result = {"bench": "thread_policy", "model": "samnet", "batch": 48, "variant": "canonical",
              "figure": "samples_per_s_overall", "ratio_base": "same case, idle machine, 1 thread",
              "goal_default_ratio": GOAL, "default_meets_goal": default_ok, "ratios": table, "cells": cells,
              "loadavg_1m_at_start": load_start, "total_s": round(time.perf_counter() - t0, 1),
              "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
    write_result(args.tag, result)
    return result


if __name__ == "__main__":
    main()
