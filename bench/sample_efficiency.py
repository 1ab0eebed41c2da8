"""Sample efficiency: accuracy per example seen under training-recipe variants (SAMNet's architecture unchanged).

Each cell trains a model from scratch on freshly generated COG canonical examples (the 23 word-answer families)
for a fixed number of *examples* (``--examples``; not wall-clock, so two cells may run side by side, one thread
each, and give the same numbers as alone), then is evaluated on the same fresh held-out examples
(bench/accuracy.py's protocol). The base is the model's cpu recipe with bench/accuracy.py's settings; each
variant changes only training settings (learning rate, its schedule, batch size, dropout rate).

    .venv/bin/python bench/sample_efficiency.py --examples 192000 --variants base,dropout0 --tag a &
    .venv/bin/python bench/sample_efficiency.py --examples 192000 --variants lr2e-3,cosine --tag b &
    .venv/bin/python bench/sample_efficiency.py --report          # table of every sample_efficiency_*.json

Writes bench/results/sample_efficiency_<tag>.json (one per invocation).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import seed_summary, write_result  # noqa: E402
from accuracy import run_cell  # noqa: E402

from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402

# name -> (batch size, overrides). Cosine decay runs over the cell's own number of updates.
VARIANTS: dict[str, tuple[int, list[str]]] = {
    "base": (64, []),  # the model's cpu recipe as it is
    "dropout0": (64, ["model.dropout=0"]),
    "lr2e-3": (64, ["optim.lr=2e-3"]),
    "cosine": (64, ["optim.decay=cosine", "optim.decay_start=0.3"]),
    "b128-lr2e-3": (128, ["optim.lr=2e-3"]),
    "b32": (32, []),
    "lr5e-4": (64, ["optim.lr=5e-4"]),
    "lr5e-4-dropout0": (64, ["model.dropout=0", "optim.lr=5e-4"]),
    "clip1": (64, ["optim.clip=1"]),
    # issue [15]'s question, on COG: the reference computations against vrkit's earlier choices
    "rn-reference-choices": (64, ["model.coordinates=linspace", "model.question_padding=full", "model.inversion=row",
                                  "model.object_mask=none"]),
    "mac-vrkit-earlier": (64, ["model.sizes=compact", "model.word_attention=masked",
                               "model.dropout_placement=kb_output", "model.init=torch"]),
    "dropout0-lr2e-3-cosine": (64, ["model.dropout=0", "optim.lr=2e-3", "optim.decay=cosine",
                                    "optim.decay_start=0.3"]),
    "dropout0-cosine": (64, ["model.dropout=0", "optim.decay=cosine", "optim.decay_start=0.3"]),
    "dropout0-b128-lr2e-3-cosine": (128, ["model.dropout=0", "optim.lr=2e-3", "optim.decay=cosine",
                                          "optim.decay_start=0.3"]),
}


def report() -> str:
    rows: dict[tuple[str, str, int], list[dict]] = {}
    for f in sorted((ROOT / "bench" / "results").glob("sample_efficiency_*.json")):
        res = json.loads(f.read_text())
        for c in res["cells"]:
            rows.setdefault((c["model"], c["variant"], res["examples"]), []).append(c)
    lines = ["| model | variant | examples | seeds | accuracy (mean) | per seed | weakest group | examples/s* |",
             "|---|---|---|---|---|---|---|---|"]
    for (model, variant, n), cells in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2], -statistics.mean(
            c["acc"] for c in kv[1]))):
        rate = statistics.mean(c["train_examples_per_s"] for c in cells)
        lines.append(f"| {model} | {variant} | {n:,} | {len(cells)} | {seed_summary(cells)} | {rate:.0f} |")
    lines.append("\n\\* with another 1-thread job beside it (cells run two at a time): a rough speed, not a benchmark.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="samnet")
    ap.add_argument("--examples", type=int, default=192_000, help="training examples per cell")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default="base", help=f"comma-separated, from: {', '.join(VARIANTS)}")
    ap.add_argument("--eval-n", type=int, default=4600)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--report", action="store_true", help="print the Markdown table of all results and exit")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.report:
        print(report())
        return
    policy = apply_thread_policy(args.threads)
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(unknown)}")
    cells = []
    with tempfile.TemporaryDirectory(prefix="vrkit-eff-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in names:
                batch, overrides = VARIANTS[name]
                steps = args.examples // batch
                cell_args = argparse.Namespace(
                    families="classification", pixel_size=56, epoch_size=9600, batch_size=batch, seed=seed,
                    workers=0, base="cpu", decay_start=None, eval_n=args.eval_n, probe_minutes=0.5,
                    set=[*overrides, f"trainer.max_steps={steps}"])
                cell = run_cell(args.model, "state", "fp32", 600.0, cell_args, Path(tmp) / f"{seed}-{len(cells)}")
                cell.update({"variant": name, "seed": seed, "batch": batch, "overrides": overrides})
                print(json.dumps(cell), file=sys.stderr, flush=True)
                cells.append(cell)
                # written after every cell, so a long invocation that is stopped keeps what it measured
                write_result(f"sample_efficiency_{args.tag or args.model}", {
                    "bench": "sample_efficiency", "model": args.model, "examples": args.examples,
                    "recipe": f"configs/cog/{args.model}_cpu.yaml + bench/accuracy.py settings",
                    "threads": policy["threads"],
                    "command": " ".join(["python", "bench/sample_efficiency.py", *sys.argv[1:]]), "cells": cells})


if __name__ == "__main__":
    main()
