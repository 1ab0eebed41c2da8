"""Does faithfulness to the reference change learning? SAMNet's reference computation vs vrkit's earlier options.

Each cell trains SAMNet from scratch on freshly generated COG canonical examples for a fixed number of updates
(``--steps``; not wall-clock, so two cells may run side by side, one thread each, and give the same numbers as
alone), then is evaluated on the same fresh held-out examples (bench/accuracy.py's protocol and settings).
Variants: ``reference`` (the defaults), each option of docs/samnet-reference.md flipped alone, and ``vrkit``
(all four flipped: the model vrkit trained before it followed the reference).

    .venv/bin/python bench/samnet_options.py --path state --steps 4000 --seeds 0 --tag s0 &
    .venv/bin/python bench/samnet_options.py --path state --steps 4000 --seeds 1 --tag s1 &
    .venv/bin/python bench/samnet_options.py --report          # table of every samnet_options_*.json

Writes bench/results/samnet_options_<tag>.json (one per invocation).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import seed_summary, write_result  # noqa: E402
from accuracy import run_cell  # noqa: E402

from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402

VARIANTS: dict[str, list[str]] = {
    "reference": [],
    "projected values": ["model.visual_values=projected"],
    "masked question": ["model.question_padding=masked"],
    "torch init": ["model.init=torch"],
    "per-frame dropout": ["model.init_dropout=per_frame"],
    "vrkit (all four)": ["model.visual_values=projected", "model.question_padding=masked", "model.init=torch",
                         "model.init_dropout=per_frame"],
}
PIXEL_VARIANTS = ("reference", "projected values", "vrkit (all four)")


def report() -> str:
    rows: dict[tuple[str, str], list[dict]] = {}
    for f in sorted((ROOT / "bench" / "results").glob("samnet_options_*.json")):
        res = json.loads(f.read_text())
        for c in res["cells"]:
            rows.setdefault((c["path"], c["variant"]), []).append({**c, "steps_budget": res["steps"]})
    lines = ["| path | variant | updates | seeds | accuracy (mean) | per seed | weakest group |",
             "|---|---|---|---|---|---|---|"]
    for (path, variant), cells in sorted(rows.items(), key=lambda kv: (kv[0][0], list(VARIANTS).index(kv[0][1]))):
        lines.append(f"| {path} | {variant} | {cells[0]['steps']:,} | {len(cells)} | {seed_summary(cells)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", choices=("state", "pixels"), default="state")
    ap.add_argument("--steps", type=int, default=4000, help="updates per cell")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default=None, help="comma-separated names (default: all for state, "
                    f"{', '.join(PIXEL_VARIANTS)} for pixels)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="default: fp32 state, bf16 pixels")
    ap.add_argument("--pixel-size", type=int, default=56)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--eval-n", type=int, default=4600)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--report", action="store_true", help="print the Markdown table of all results and exit")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.report:
        print(report())
        return
    policy = apply_thread_policy(args.threads)
    names = args.variants.split(",") if args.variants else list(VARIANTS if args.path == "state" else PIXEL_VARIANTS)
    precision = args.precision or ("fp32" if args.path == "state" else "bf16")
    cells = []
    with tempfile.TemporaryDirectory(prefix="vrkit-opts-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in names:
                cell_args = argparse.Namespace(
                    families="classification", pixel_size=args.pixel_size, epoch_size=9600, batch_size=args.batch_size,
                    seed=seed, workers=0, base="cpu", decay_start=None, eval_n=args.eval_n, probe_minutes=0.5,
                    set=[*VARIANTS[name], f"trainer.max_steps={args.steps}"])
                cell = run_cell("samnet", args.path, precision, 600.0, cell_args, Path(tmp) / f"{seed}-{len(cells)}")
                cell.update({"variant": name, "seed": seed, "overrides": VARIANTS[name]})
                print(json.dumps(cell), file=sys.stderr, flush=True)
                cells.append(cell)
    write_result(f"samnet_options_{args.tag or args.path}", {
        "bench": "samnet_options", "path": args.path, "steps": args.steps, "precision": precision,
        "recipe": "configs/cog/samnet_cpu.yaml + bench/accuracy.py settings", "threads": policy["threads"],
        "command": " ".join(["python", "bench/samnet_options.py", *sys.argv[1:]]), "cells": cells})


if __name__ == "__main__":
    main()
