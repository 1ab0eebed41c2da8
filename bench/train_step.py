"""Time one training step (forward + backward + Adam) of a registered model on random COG-shaped inputs.

    .venv/bin/python bench/train_step.py --model samnet --variant canonical --path pixels --precision bf16

Inputs follow the batch contract: question [B, 25] (lengths 5–25), frames [B, T, 3, 112, 112] or objects
[B, T, N, 55] (colour one-hot, shape one-hot, x, y) with a mask; T = 4 (canonical) or 8 (hard); N = 6
(canonical) or 16 (hard) object slots. Loss = answer cross-entropy + COG pointing soft cross-entropy;
Adam lr 2e-4, weight decay 2e-5, gradient clipping by value at 10 (the reference COG recipe).
The model is built by the engine from configs/cog/<model>_paper.yaml (reference widths) exactly as `vrkit train`
builds it (channels-last CNN on the pixel path unless --set trainer.channels_last=false).
bf16 = CPU autocast around the forward (the model keeps its reasoning core in fp32).
Writes bench/results/train_step_<model>_<variant>_<path>_<precision>[_b<batch> if not 48].json (not with
--no-write); the last line printed is JSON. Applies vrkit.models.perf.cpu_speedups() (flush denormals, keep freed
memory in the heap) and the thread policy of vrkit.utils.threads (--threads N|auto; auto = 1 per process).

--busy loop|mix runs the steps beside another process keeping one core busy (bench/_common.py BusyCore: a plain
busy loop, or a mix of short-lived jobs); --seconds bounds the timed part (a busy machine can make a step of two
spinning threads last seconds). bench/thread_policy.py runs the threads x load grid with these flags.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "bench"))

from _common import BUSY_KINDS, BusyCore  # noqa: E402

from vrkit.engine.module import build_run_model as _engine_model  # noqa: E402
from vrkit.engine.recipe import load_run_config  # noqa: E402
from vrkit.errors import InputError  # noqa: E402
from vrkit.models.layers import point_target  # noqa: E402
from vrkit.models.perf import cpu_speedups  # noqa: E402
from vrkit.utils.atomic import atomic_write_text  # noqa: E402
from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402

FRAMES = {"canonical": 4, "hard": 8}
OBJECTS = {"canonical": 6, "hard": 16}


def make_batch(batch: int, variant: str, path: str, image: int = 112, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    B, T, L = batch, FRAMES[variant], 25
    lens = torch.randint(5, L + 1, (B,), generator=g)
    q = torch.randint(1, 79, (B, L), generator=g) * (torch.arange(L)[None] < lens[:, None])
    answer = torch.randint(0, 55, (B, T), generator=g)
    point_mask = torch.rand(B, T, generator=g) < 0.3
    out = {"question": q, "question_len": lens, "answer": answer.masked_fill(point_mask, -100),
           "point": torch.rand(B, T, 2, generator=g), "point_mask": point_mask,
           "family": torch.randint(0, 44, (B,), generator=g)}
    if path == "pixels":
        out["frames"] = torch.rand(B, T, 3, image, image, generator=g)
    else:
        N = OBJECTS[variant]
        col = F.one_hot(torch.randint(0, 21, (B, T, N), generator=g), 21)
        shp = F.one_hot(torch.randint(0, 32, (B, T, N), generator=g), 32)
        xy = torch.rand(B, T, N, 2, generator=g)
        out["objects"] = torch.cat([col.float(), shp.float(), xy], -1)
        out["object_mask"] = torch.rand(B, T, N, generator=g) < 0.7
    return out


def build_run_model(model: str, path: str, precision: str, variant: str = "canonical",
                    overrides: list[str] | None = None) -> torch.nn.Module:
    """The model ``vrkit train -c configs/cog/<model>_paper.yaml`` trains (reference widths), on ``path``,
    built by the engine's own builder, so the benchmark times what training runs (e.g. channels-last)."""
    cfg = load_run_config(REPO / "configs" / "cog" / f"{model}_paper.yaml",
                      [f"data.path={path}", f"data.variant={variant}", f"trainer.precision={precision}",
                       *(overrides or [])])
    return _engine_model(cfg)


def loss_fn(out: dict, batch: dict, grid: int = 7) -> torch.Tensor:
    logits = out["logits"].float()
    loss = F.cross_entropy(logits.flatten(0, 1), batch["answer"].flatten(), ignore_index=-100)
    if "point_logits" in out:
        logp = torch.log_softmax(out["point_logits"].float(), -1)
        ce = -(point_target(batch["point"], grid) * logp).sum(-1)  # (B, T)
        loss = loss + (ce * batch["point_mask"]).sum() / ce.numel()
    return loss


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="samnet")
    ap.add_argument("--variant", choices=sorted(FRAMES), default="canonical")
    ap.add_argument("--path", choices=("pixels", "state"), default="pixels")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--compile-step", action="store_true", help="samnet: torch.compile the reasoning step")
    add_threads_argument(ap)
    ap.add_argument("--no-heap", action="store_true", help="leave glibc's allocator at its defaults")
    ap.add_argument("--busy", choices=BUSY_KINDS, default="none",
                    help="another process keeps one core busy meanwhile: loop (busy loop) | mix (short jobs)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="stop timing after this many seconds (at least 1 step, at most --steps)")
    ap.add_argument("--no-write", action="store_true", help="print the JSON line only (no results file)")
    ap.add_argument("--tag", default=None, help="suffix of the results file (e.g. for --set variants)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override of the paper recipe, e.g. trainer.channels_last=false (repeatable)")
    args = ap.parse_args(argv)
    try:
        policy = apply_thread_policy(args.threads)
    except InputError as err:
        ap.error(str(err))
    switches = cpu_speedups(heap=not args.no_heap)
    torch.manual_seed(0)
    extra = ["model.compile_step=true"] if args.compile_step else []
    model = build_run_model(args.model, args.path, args.precision, args.variant, extra + args.set)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=2e-5)
    batch = make_batch(args.batch, args.variant, args.path)
    use_bf16 = args.precision == "bf16"

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = model(batch)
        loss = loss_fn(out, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 10.0)
        opt.step()
        return float(loss.detach())

    with BusyCore(args.busy, seconds=600) as busy:  # the load ends at exit, or by itself after 10 minutes
        load_before = round(os.getloadavg()[0], 2)
        t0 = time.perf_counter()
        for _ in range(2):
            step()
        warmup = time.perf_counter() - t0
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < args.steps and (args.seconds is None or not times
                                           or time.perf_counter() - start < args.seconds):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
        load_after = round(os.getloadavg()[0], 2)
    med = statistics.median(times)
    result = {
        "model": args.model, "variant": args.variant, "path": args.path, "precision": args.precision,
        "batch": args.batch, "frames": FRAMES[args.variant], "steps": args.steps,
        "params": sum(p.numel() for p in model.parameters()),
        "compile_step": args.compile_step, "overrides": args.set, "warmup_s": round(warmup, 2),
        "step_s_median": round(med, 5), "step_s_min": round(min(times), 5),
        "samples_per_s": round(args.batch / med, 2), "samples_per_s_best": round(args.batch / min(times), 2),
        # what a training run sees (slow outlier steps included), beside the median of the steps
        "samples_per_s_overall": round(args.batch * len(times) / sum(times), 2), "timed_steps": len(times),
        "last_loss": round(loss, 4), "threads": torch.get_num_threads(), "threads_source": policy["source"],
        "interop_threads": policy["interop_threads"], "busy": busy.kind, **switches, "torch": torch.__version__,
        # the machine is shared: record how busy it was (1-minute load average, busy load included)
        "machine": platform.machine(), "loadavg_1m_before": load_before, "loadavg_1m_after": load_after,
    }
    if not args.no_write:
        out_dir = REPO / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = "" if args.batch == 48 else f"_b{args.batch}"
        tag = f"_{args.tag}" if args.tag else ""
        name = f"train_step_{args.model}_{args.variant}_{args.path}_{args.precision}{suffix}{tag}.json"
        atomic_write_text(out_dir / name, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
