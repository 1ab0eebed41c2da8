"""Accuracy under a fixed time budget: SAMNet vs the COG baseline on COG canonical.

Grid: model ∈ {samnet, cog_baseline} × path ∈ {state, pixels (small frames)} × precision ∈ {fp32, bf16}.
Each cell trains from scratch on freshly generated examples for ``--minutes`` (wall clock, via
``trainer.max_minutes``), then is evaluated on the same fresh held-out examples (``gen:canonical:N:SEED``).
Writes ``bench/results/accuracy_<tag>.json`` and prints one JSON line last.

    .venv/bin/python bench/accuracy.py --minutes 30            # the real comparison (long: 8 x 30 min)
    .venv/bin/python bench/accuracy.py --smoke                 # ~1 minute end-to-end check
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vrkit.engine.evaluate import evaluate, load_task, parse_data_spec  # noqa: E402
from vrkit.engine.recipe import load_run_config  # noqa: E402
from vrkit.engine.run import train  # noqa: E402
from vrkit.errors import InputError  # noqa: E402
from vrkit.utils.atomic import atomic_write_text  # noqa: E402
from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402


def run_cell(model: str, path: str, precision: str, minutes: float, args: argparse.Namespace, workdir: Path) -> dict:
    run = workdir / f"{model}-{path}-{precision}"
    overrides = [
        f"model.name={model}", "data.variant=canonical", f"data.families={args.families}", f"data.path={path}",
        f"data.image_size={args.pixel_size}", f"data.train={{kind: stream, n: {args.epoch_size}}}", "data.val=null",
        f"data.batch_size={args.batch_size}", "optim.lr=1e-3", "optim.weight_decay=0", "optim.clip=10",
        "optim.clip_mode=norm", "optim.warmup_start_lr=2.5e-4", "optim.warmup_every=1", "trainer.max_epochs=100000",
        f"trainer.max_minutes={minutes}", f"trainer.precision={precision}", f"seed={args.seed}", f"run_dir={run}",
        f"data.workers={args.workers}", *args.set,
    ]
    base = None
    if args.base == "cpu":  # the model's cpu-scale recipe (widths sized for 2 cores), then the bench's settings
        base = ROOT / "configs" / "cog" / f"{model}_cpu.yaml"
        overrides.append("trainer.early_stopping_patience=null")
    decay = {}
    if args.decay_start is not None:  # cosine decay needs a step count: measure this cell's speed first
        probe = load_run_config(base, overrides + [f"trainer.max_minutes={args.probe_minutes}", f"run_dir={run}-probe"])
        rate = train(probe)["steps"] / (60 * args.probe_minutes)
        max_steps = max(1, int(rate * 60 * minutes))
        overrides += ["optim.decay=cosine", f"optim.decay_start={args.decay_start}", f"trainer.max_steps={max_steps}"]
        decay = {"decay": "cosine", "decay_start": args.decay_start, "probe_steps_per_s": round(rate, 2),
                 "max_steps": max_steps}
    cfg = load_run_config(base, overrides)
    t0 = time.perf_counter()
    res = train(cfg)
    train_s = time.perf_counter() - t0
    task = load_task(run / "checkpoints" / "last.ckpt")
    t1 = time.perf_counter()
    data = parse_data_spec([f"gen:canonical:{args.eval_n}:{args.seed + 777}"])
    summary = evaluate(task, data, precision=precision)
    return {
        "model": model, "path": path, "precision": precision,
        "image_size": args.pixel_size if path == "pixels" else None,
        "budget_min": minutes, "train_s": round(train_s, 1), "steps": res["steps"],
        "train_examples": res["steps"] * args.batch_size,
        "train_examples_per_s": round(res["steps"] * args.batch_size / train_s, 1),
        "eval_s": round(time.perf_counter() - t1, 1), "eval_examples": summary["examples"],
        "acc": round(summary["acc"], 4), "frames_acc": round(summary["frames_acc"], 4),
        "groups": {g: round(v["acc"], 4) for g, v in summary["groups"].items()},
        "families": {f: round(v["acc"], 4) for f, v in summary["families"].items()},
        "params": sum(p.numel() for p in task.parameters()), **decay,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="training budget per cell")
    ap.add_argument("--smoke", action="store_true", help="~1 minute in total: 8 cells of 6 s, tiny eval")
    ap.add_argument("--models", default="samnet,cog_baseline")
    ap.add_argument("--paths", default="state,pixels")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--families", default="classification")
    ap.add_argument("--pixel-size", type=int, default=56, help="small pixel frames (reference: 112)")
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--epoch-size", type=int, default=9600, help="generated examples per epoch")
    ap.add_argument("--eval-n", type=int, default=4600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--base", choices=("cpu", "defaults"), default="cpu",
                    help="cpu: configs/cog/<model>_cpu.yaml as the base; defaults: the model's reference sizes")
    add_threads_argument(ap)
    ap.add_argument("--workers", type=int, default=0, help="data-generation worker processes")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override for every cell, e.g. model.steps=4 (repeatable)")
    ap.add_argument("--decay-start", type=float, default=None,
                    help="cosine lr decay from this fraction of the budget to its end; the step count comes from "
                         "a short probe run of the same cell (not counted in the budget)")
    ap.add_argument("--probe-minutes", type=float, default=0.5)
    args = ap.parse_args()
    minutes = args.minutes
    if args.smoke:
        minutes, args.eval_n, args.epoch_size = 0.1, 96, 960
    try:
        apply_thread_policy(args.threads)
    except InputError as err:
        ap.error(str(err))
    cells = []
    with tempfile.TemporaryDirectory(prefix="vrkit-acc-") as tmp:
        for model in args.models.split(","):
            for path in args.paths.split(","):
                for precision in args.precisions.split(","):
                    cell = run_cell(model, path, precision, minutes, args, Path(tmp))
                    print(json.dumps(cell), file=sys.stderr, flush=True)
                    cells.append(cell)
    tag = args.tag or ("smoke" if args.smoke else f"{minutes:g}min")
    out = {"bench": "accuracy", "tag": tag, "variant": "canonical", "families": args.families,
           "minutes_per_cell": minutes, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.machine(), "workers": args.workers, "overrides": args.set, "base": args.base,
           "command": " ".join(sys.argv),
           "cells": cells}
    path = ROOT / "bench" / "results" / f"accuracy_{tag}.json"
    atomic_write_text(path, json.dumps(out, indent=1))
    print(json.dumps({"written": str(path.relative_to(ROOT)),
                      "acc": {f"{c['model']}/{c['path']}/{c['precision']}": c["acc"] for c in cells}}))


if __name__ == "__main__":
    main()
