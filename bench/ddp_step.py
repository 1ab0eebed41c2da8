"""Both cores for one run: one process on one thread vs two DDP processes (gloo) on one thread each.

    .venv/bin/python bench/ddp_step.py [--model samnet] [--path state] [--steps 200]

Runs ``vrkit train`` (the model's cpu recipe on the state path, or the paper recipe on pixels; fresh streamed
examples, no validation) for ``--steps`` updates with ``--devices 1`` and with ``--devices 2 --strategy ddp``; each
rank takes ``data.batch_size`` examples per update, so DDP does twice the examples per update. Throughput =
examples / wall time of the whole command (start-up included, so use enough steps). Writes
bench/results/ddp_step_<model>_<path>.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_result  # noqa: E402


def run(devices: int, args: argparse.Namespace, tmp: Path) -> dict:
    recipe = ROOT / "configs" / "cog" / f"{args.model}_{'cpu' if args.path == 'state' else 'paper'}.yaml"
    cmd = [sys.executable, "-m", "vrkit", "train", "-c", str(recipe), "--threads", "1",
           "--run-dir", str(tmp / f"d{devices}"), f"data.path={args.path}", "data.val=null",
           "data.train={kind: stream, n: 100000}", f"trainer.max_steps={args.steps}", "trainer.max_minutes=null",
           "trainer.max_epochs=1000", "trainer.early_stopping_patience=null", f"data.batch_size={args.batch_size}",
           f"data.image_size={args.pixel_size}", *args.set]
    if devices > 1:
        cmd += ["--devices", str(devices), "--strategy", "ddp"]
    load = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    examples = args.steps * args.batch_size * devices
    return {"devices": devices, "wall_s": round(wall, 1), "examples": examples,
            "samples_per_s": round(examples / wall, 1), "load_avg_1m_before": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="samnet")
    ap.add_argument("--path", choices=("state", "pixels"), default="state")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--pixel-size", type=int, default=56)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vrkit-ddp-") as tmp:
        cells = [run(d, args, Path(tmp)) for d in (1, 2)]
    write_result(f"ddp_step_{args.model}_{args.path}", {
        "bench": "ddp_step", "model": args.model, "path": args.path, "steps": args.steps,
        "batch_per_rank": args.batch_size, "threads_per_rank": 1, "overrides": args.set, "cells": cells,
        "ddp_speedup": round(cells[1]["samples_per_s"] / cells[0]["samples_per_s"], 2),
        "command": " ".join(["python", "bench/ddp_step.py", *sys.argv[1:]])})


if __name__ == "__main__":
    main()
