"""Where a real training step's time goes: data, forward, backward, optimizer and Lightning's own overhead.

    .venv/bin/python bench/profile_step.py [--model samnet] [--path state|pixels] [--steps 300] [--threads 1]
    .venv/bin/python bench/profile_step.py --path pixels --precision bf16 --steps 40 --pixel-size 112

Runs ``vrkit train`` itself (the model's cpu recipe, or the paper recipe on pixels, fresh streamed examples, no
validation) with ``trainer.profiler=simple`` — Lightning's per-hook wall-clock timer — and splits the steps after
the first 10 (warm-up) into: data (fetching the next batch: generation, collation), forward (``training_step``:
model, losses, metrics update, logging calls), backward, optimizer (``optimizer_step`` minus the forward and
backward it runs as its closure: gradient clipping, the non-finite check, Adam) and the rest of Lightning's loop
(hooks, callbacks, progress). Also a torch.profiler table of the model's top operators for a few steps.
Writes bench/results/profile_<model>_<path>_<precision>.json and prints the breakdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_result  # noqa: E402

from vrkit.engine.config import to_dict  # noqa: E402
from vrkit.engine.module import ReasoningTask  # noqa: E402
from vrkit.engine.recipe import build_datamodule, load_run_config  # noqa: E402
from vrkit.engine.run import _quiet, build_trainer  # noqa: E402
from vrkit.models.perf import cpu_speedups  # noqa: E402
from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402

WARMUP = 10
HOOKS = {  # Lightning SimpleProfiler action names (lightning 2.x)
    "data": "[_TrainingEpochLoop].train_dataloader_next",
    "forward": "[Strategy]SingleDeviceStrategy.training_step",
    "backward": "[Strategy]SingleDeviceStrategy.backward",
    "optimizer_step": "[LightningModule]ReasoningTask.optimizer_step",
    "batch": "run_training_batch",
}


def _after_warmup(durations: dict[str, list[float]], name: str, steps: int) -> list[float]:
    d = durations.get(name, [])
    return d[-(steps - WARMUP):] if len(d) >= steps else d[WARMUP:]


def breakdown(durations: dict[str, list[float]], steps: int, wall_per_step: float) -> dict[str, float]:
    """Mean milliseconds per step of each part (see the module docstring)."""
    mean = {k: statistics.fmean(_after_warmup(durations, v, steps) or [0.0]) * 1e3 for k, v in HOOKS.items()}
    parts = {"data": mean["data"], "forward": mean["forward"], "backward": mean["backward"],
             "optimizer": max(0.0, mean["optimizer_step"] - mean["forward"] - mean["backward"])}
    parts["lightning_loop"] = max(0.0, wall_per_step * 1e3 - sum(parts.values()))
    return {k: round(v, 2) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="samnet")
    ap.add_argument("--path", choices=("state", "pixels"), default="state")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="default: fp32 state, bf16 pixels")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--pixel-size", type=int, default=112)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--tag", default=None)
    add_threads_argument(ap)
    args = ap.parse_args(argv)
    policy = apply_thread_policy(args.threads)
    cpu_speedups()
    precision = args.precision or ("fp32" if args.path == "state" else "bf16")
    recipe = ROOT / "configs" / "cog" / f"{args.model}_{'cpu' if args.path == 'state' else 'paper'}.yaml"
    _quiet()
    with tempfile.TemporaryDirectory(prefix="vrkit-prof-") as tmp:
        overrides = [f"data.path={args.path}", f"data.image_size={args.pixel_size}", "data.val=null",
                     "data.workers=0", f"trainer.max_steps={args.steps}", "trainer.max_epochs=100000",
                     "trainer.max_minutes=null", "trainer.early_stopping_patience=null", "trainer.profiler=simple",
                     f"trainer.precision={precision}", "trainer.progress_bar=false", f"run_dir={tmp}/run",
                     "data.train={kind: stream, n: 100000}", *args.set]
        if args.batch_size:
            overrides.append(f"data.batch_size={args.batch_size}")
        cfg = load_run_config(recipe, overrides)
        dm = build_datamodule(cfg.data, cfg.optim, cfg.seed)
        task = ReasoningTask(to_dict(cfg))
        trainer = build_trainer(cfg, Path(tmp) / "run", logger=False)
        t0 = time.perf_counter()
        trainer.fit(task, datamodule=dm)
        wall = time.perf_counter() - t0
        durations = dict(trainer.profiler.recorded_durations)
        batch_times = _after_warmup(durations, HOOKS["data"], args.steps)
        loop = durations.get("run_training_epoch", [wall])
        per_step = (sum(loop) - sum(durations.get(HOOKS["batch"], [])[:WARMUP])
                    - sum(durations.get(HOOKS["data"], [])[:WARMUP])) / max(1, len(batch_times))
        parts = breakdown(durations, args.steps, per_step)
        dm.setup("fit")
        batch = next(iter(dm.train_dataloader()))  # one batch for the operator table and the arithmetic count
        ops = _top_ops(task, batch)
        gflop = _gflop_per_step(task, batch)
        peak = _matmul_gflop_per_s()
    B = cfg.data.batch_size
    total = sum(parts.values())
    result = {"bench": "profile_step", "model": args.model, "path": args.path, "precision": precision,
              "recipe": str(recipe.relative_to(ROOT)), "batch": B, "steps": args.steps, "warmup_steps": WARMUP,
              "threads": policy["threads"], "ms_per_step": round(total, 2),
              "samples_per_s": round(B / total * 1e3, 1),
              "parts_ms": parts, "parts_share": {k: round(v / total, 3) for k, v in parts.items()},
              "top_ops": ops, "gflop_per_step": gflop, "achieved_gflop_per_s": round(gflop / total * 1e3, 1),
              "matmul_gflop_per_s": peak, "arithmetic_ceiling_samples_per_s": round(peak / gflop * B, 1),
              "overrides": args.set,
              "command": " ".join(["python", "bench/profile_step.py", *(argv or sys.argv[1:])])}
    name = f"profile_{args.model}_{args.path}_{precision}" + (f"_{args.tag}" if args.tag else "")
    write_result(name, result)
    print(json.dumps({"samples_per_s": result["samples_per_s"], "share": result["parts_share"]}))
    return result


def _top_ops(task: ReasoningTask, batch: dict, steps: int = 3, top: int = 12) -> list[dict]:
    """torch.profiler's operators by self CPU time over a few forward + backward passes of the model."""
    from torch.profiler import ProfilerActivity, profile

    model = task.model.train()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            out = task(batch)
            out["logits"].float().logsumexp(-1).mean().backward()
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) or 1.0
    model.zero_grad(set_to_none=True)
    return [{"op": e.key, "calls_per_step": e.count // steps, "self_share": round(e.self_cpu_time_total / total, 3)}
            for e in rows]


def _gflop_per_step(task: ReasoningTask, batch: dict) -> float:
    """Floating-point operations of one training step's forward and backward: what the step must compute
    whatever the kernels, so ``achieved_gflop_per_s`` says how close the step runs to the core's arithmetic rate.
    torch.utils.flop_counter counts matrix products and convolutions; it has no formula for the fused oneDNN LSTM
    kernel, so each ``nn.LSTM`` call of the same pass is counted by hand from its input's shape (padded questions
    at their padded length): per direction and token the four gates' [input, hidden] x [4 hidden] product,
    2 FLOPs per multiply-add, backward as twice the forward."""
    from torch.utils.flop_counter import FlopCounterMode

    calls: list[tuple[torch.nn.LSTM, int]] = []  # (module, batch x tokens)
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append((m, i[0].shape[0] * i[0].shape[1])))
             for m in task.modules() if isinstance(m, torch.nn.LSTM)]
    try:
        with FlopCounterMode(display=False) as counter:
            out = task(batch)
            out["logits"].float().logsumexp(-1).mean().backward()
    finally:
        for h in hooks:
            h.remove()
    task.model.zero_grad(set_to_none=True)
    lstm = sum((2 if m.bidirectional else 1) * n * 2 * 4 * m.hidden_size * (m.input_size + m.hidden_size)
               for m, n in calls)
    return round((counter.get_total_flops() + 3 * lstm) / 1e9, 3)


def _matmul_gflop_per_s(n: int = 512, seconds: float = 2.0) -> float:
    """What the cores give to one large fp32 matrix product at this thread count (GFLOP/s): the rate a step
    made only of well-shaped products could reach. Dividing it by the step's arithmetic bounds the samples/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        a @ b
        k += 1
    return round(2 * n**3 * k / (time.perf_counter() - t0) / 1e9, 1)


if __name__ == "__main__":
    main()
