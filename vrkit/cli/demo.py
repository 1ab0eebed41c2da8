"""`vrkit demo`: the whole flow in a few minutes on a laptop.

1. generate a small COG canonical validation set (official layout) under ``OUT/data``;
2. train SAMNet on the state path for ``--minutes`` on a stream of fresh examples (each epoch new ones:
   the generator makes thousands per second, far more than training consumes; run directory ``OUT/run``);
3. evaluate the best checkpoint on freshly generated examples and, when present, on the official sample
   ``../shared/data/cog-official-sample/val_4_3_1``; print the per-family tables with what answering without
   looking scores (chance, and the family's most frequent answer: the prior);
4. write ``OUT/accuracy.png`` (per-family accuracy bars with chance and prior marked) and ``OUT/demo.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from vrkit.cli._args import positive_float, positive_int
from vrkit.configs import CONFIG_DIR
from vrkit.utils.threads import add_threads_argument, apply_thread_policy


def official_sample_dir() -> Path:
    """``<repo>/../shared/data/cog-official-sample/val_4_3_1`` (may not exist)."""
    import vrkit

    return Path(vrkit.__file__).resolve().parents[1].parent / "shared" / "data" / "cog-official-sample" / "val_4_3_1"


#: The demo's training recipe (package data, so an installed vrkit has it too).
DEMO_RECIPE = CONFIG_DIR / "cog" / "samnet_demo.yaml"


def demo_config(out: Path, minutes: float, families: str, seed: int, overrides: list[str] | None = None):
    """The demo's training config: :data:`DEMO_RECIPE` validated on the files generated under ``OUT/data``, with
    the demo's time budget, families, seed and run directory, then ``overrides``."""
    from vrkit.engine.recipe import load_run_config

    data = out / "data"
    if "," in families:
        families = "[" + ", ".join(f.strip() for f in families.split(",")) + "]"
    base = [
        f"data.families={families}", f"data.val={{kind: files, paths: ['{data / 'val_4_3_1'}']}}",
        f"trainer.max_minutes={minutes}", f"seed={seed}", f"run_dir={out / 'run'}",
    ]
    return load_run_config(DEMO_RECIPE, base + list(overrides or []))


def bar_figure(results: dict[str, dict[str, Any]], path: Path, title: str,
               order: list[str] | None = None, baselines: dict[str, Any] | None = None) -> None:
    """Per-family accuracy bars, one colour per evaluation set (PNG, Agg backend); ``baselines``
    (:func:`vrkit.engine.evaluate.answer_baselines`) adds each family's chance and prior as tick marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vrkit.transfer.figure import grouped_bars
    from vrkit.utils.atomic import atomic_path

    present = {f for r in results.values() for f in r["families"]}
    fams = [f for f in (order or []) if f in present] + sorted(present - set(order or []))
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(fams) + 2), 4.5))
    series = {f"{name} (mean {100 * r['acc']:.1f}%)": [100 * r["families"].get(f, {"acc": np.nan})["acc"]
                                                        for f in fams] for name, r in results.items()}
    x = grouped_bars(ax, fams, series, rotation=75, fontsize=7)
    if baselines:
        for key, style, label in (("prior", dict(color="black", lw=1.6), "prior: most frequent answer"),
                                  ("chance", dict(color="grey", lw=1.2, ls=":"), "chance")):
            ys = [100 * baselines["families"].get(f, {}).get(key, np.nan) for f in fams]
            ax.hlines(ys, x - 0.42, x + 0.42, **style,
                      label=f"{label} (mean {100 * baselines['acc_' + key]:.1f}%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def demo_devices(value: str) -> int:
    """``--devices``: a count, or ``auto`` = one training process per core, at most 2 (measured on 2 cores: two
    one-thread DDP processes train SAMNet's state path 1.45-1.8x faster than one; more processes would also
    multiply the batch the recipe's learning rate was chosen for)."""
    import os

    if value == "auto":
        return max(1, min(2, os.cpu_count() or 1))
    return positive_int(value)


def run_demo(out: Path, minutes: float, n_per_family: int, families: str, seed: int, eval_n: int,
             overrides: list[str] | None = None, log=print, official: Path | None = None,
             devices: int = 1) -> dict[str, Any] | None:
    """Generate, train, evaluate, plot; returns the summary written to ``OUT/demo.json``. ``official``: the
    official sample directory to evaluate on (default :func:`official_sample_dir`; skipped when absent).
    ``devices`` > 1 trains over that many DDP processes (gloo on CPU, 64 examples each per update, data made in
    each process); Lightning re-runs this command once per extra process, and those return None after training."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from vrkit.engine.evaluate import answer_baselines, evaluate, format_table, load_task, parse_data_spec
    from vrkit.engine.run import train
    from vrkit.utils.atomic import atomic_write_text
    from vrkit.worlds.cog.constants import GROUPS, VARIANTS, resolve_families
    from vrkit.worlds.cog.writer import GenerateConfig, generate_dataset

    fams = resolve_families(families.split(",") if "," in families else families)
    t0 = time.time()
    if not (out / "data" / "val_4_3_1").exists():
        generate_dataset(GenerateConfig(variant=VARIANTS["canonical"], variant_name="canonical", families=fams,
                                        n_per_family=n_per_family, split="val", seed=seed, out=str(out / "data")))
    generated_s = time.time() - t0
    ddp = [f"trainer.devices={devices}", "trainer.strategy=ddp", "data.workers=0"] if devices > 1 else []
    cfg = demo_config(out, minutes, families, seed, ddp + list(overrides or []))
    log(f"generated {len(fams)} families x {n_per_family} validation examples in {generated_s:.0f} s; "
        f"training streams {cfg.data.train.n} fresh examples per epoch")
    t1 = time.time()
    result = train(cfg, resume=(out / "run" / "checkpoints" / "last.ckpt").exists())
    if rank_zero_only.rank != 0:  # a DDP process Lightning started: training was its whole job
        return None
    log(f"trained {result['steps']} steps ({result['epochs']} epochs) in {time.time() - t1:.0f} s"
        + (f" on {devices} processes" if devices > 1 else ""))
    ckpt = out / "run" / "checkpoints" / "best.ckpt"
    task = load_task(ckpt if ckpt.exists() else out / "run" / "checkpoints" / "last.ckpt")
    evals: dict[str, dict[str, Any]] = {}
    fresh = parse_data_spec([f"gen:canonical:{eval_n}:{seed + 1000}"], fams)
    evals["fresh generated"] = evaluate(task, fresh)
    base = answer_baselines(task, fresh)
    sample = official_sample_dir() if official is None else official
    if sample.is_dir():
        evals["official val_4_3_1 sample"] = evaluate(task, parse_data_spec([str(sample)], fams))
    for name, summary in evals.items():
        log(f"\n== {name} ({summary['examples']} examples)\n" + format_table(summary, GROUPS))
    log(f"without looking (fresh examples): prior {100 * base['acc_prior']:.1f} %, "
        f"chance {100 * base['acc_chance']:.1f} %")
    order = [f for g in GROUPS.values() for f in g]
    bar_figure(evals, out / "accuracy.png", f"SAMNet (state path) after {minutes:g} min on COG canonical", order,
               baselines=base)
    summary = {"minutes": minutes, "steps": result["steps"], "epochs": result["epochs"],
               "train_examples": result["steps"] * cfg.data.batch_size * devices, "devices": devices,
               "families": fams, "seed": seed,
               "eval": evals, "baselines": base, "figure": str(out / "accuracy.png")}
    atomic_write_text(out / "demo.json", json.dumps(summary, indent=1, sort_keys=True))
    return summary


def _cmd_demo(args: argparse.Namespace) -> int:
    threads = apply_thread_policy(args.threads)
    print(f"torch threads: {threads['threads']} ({threads['source']})", file=sys.stderr)
    out = Path(args.out)
    summary = run_demo(out, args.minutes, args.n_per_family, args.families, args.seed, args.eval_n,
                       args.overrides, log=lambda s: print(s, flush=True), devices=args.devices)
    if summary is None:  # a DDP process other than the first
        return 0
    print(f"figure: {summary['figure']}  summary: {out / 'demo.json'}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate COG data, train SAMNet for a few minutes, evaluate, plot")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--minutes", type=positive_float, default=5.0, help="training time budget (default 5)")
    p.add_argument("--n-per-family", type=positive_int, default=20, dest="n_per_family",
                   help="generated validation examples per family, written in the official layout (default 20)")
    p.add_argument("--families", default="classification",
                   help="classification (default, the 23 word-answer families) | all | a group | comma list")
    p.add_argument("--eval-n", type=positive_int, default=2300, dest="eval_n", help="fresh examples to evaluate on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--devices", type=demo_devices, default="auto", metavar="N|auto",
                   help="training processes (DDP, one per core; default auto = the cores, at most 2)")
    add_threads_argument(p)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="training config overrides")
    p.set_defaults(handler=_cmd_demo)
