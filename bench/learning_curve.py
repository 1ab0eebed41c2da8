"""Learning curves: accuracy against wall-clock training time and against examples seen, for any model and path.

    .venv/bin/python bench/learning_curve.py --model samnet --path state --minutes 30
    .venv/bin/python bench/learning_curve.py --model cog_baseline --path pixels --minutes 30   # bf16, 56 px
    .venv/bin/python bench/learning_curve.py --figure                   # docs/img/learning_curves.png from all

Trains with ``vrkit train`` on the model's cpu recipe (configs/cog/<model>_cpu.yaml: fresh streamed COG canonical
examples, the 23 word-answer families; pixels: bf16 autocast, ``--pixel-size`` frames) for ``--minutes`` of
training, and every ``--every`` seconds of training (geometrically more often at the start) pauses the clock to
evaluate the current weights on a fixed set of fresh examples (``--eval-n``, never trained on) and on the official
sample when present (../shared/data/cog-official-sample/val_4_3_1). Accuracy is the mean of the per-family
accuracies. Chance (uniform over each family's answers) and the prior (each family's most frequent answer) are
measured on the same fresh examples. Writes bench/results/learning_curve_<model>_<path>_<precision>.json.

Training time is wall clock minus evaluation: making the examples and Lightning's loop count. Results without a
``clock`` field are older and counted only the time inside training steps (forward, backward, update), which
leaves out generating the examples and the loop between steps; the table marks them with a dagger.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import RESULTS, write_result  # noqa: E402

MODELS = ("samnet", "cog_baseline", "mac", "relation_net", "cnn_lstm")


class CurveRecorder:
    """Lightning callback: evaluates at growing intervals of training time. Training time is the wall clock since
    training started minus the time spent evaluating, so making the examples (generated in the training process
    with data.workers=0) and Lightning's own work between steps count, as they do for a user's run."""

    def __init__(self, sources: dict[str, Any], every_s: float, batch_size: int) -> None:
        self.sources, self.every_s, self.batch_size = sources, every_s, batch_size  # batch: all ranks together
        self.points: list[dict[str, Any]] = []
        self.train_s, self.eval_s, self._t0, self._next = 0.0, 0.0, None, 5.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_s = time.perf_counter() - self._t0 - self.eval_s
        if self.train_s >= self._next:
            if trainer.is_global_zero:  # DDP: rank 0 evaluates; the other ranks wait at the next gradient reduce
                self.record(trainer, pl_module)
            self._next = min(self._next * 2, self._next + self.every_s)

    def record(self, trainer, pl_module, families: bool = False) -> None:
        """One point; ``families``: also each family's accuracy (the last point: the goal is per family too)."""
        from vrkit.engine.evaluate import evaluate

        start = time.perf_counter()
        point: dict[str, Any] = {"train_s": round(self.train_s, 1), "steps": trainer.global_step,
                                 "examples": trainer.global_step * self.batch_size}
        was_training = pl_module.training
        for name, source in self.sources.items():  # seeded sources: the same examples at every point
            res = evaluate(pl_module, source, 256, pl_module.cfg.trainer.precision)
            point[name] = round(res["acc"], 4)
            if families:
                point[f"{name}_families"] = {f: round(v["acc"], 4) for f, v in res["families"].items()}
        pl_module.train(was_training)  # evaluate() leaves the task in eval mode
        self.eval_s += time.perf_counter() - start
        point["wall_s"] = round(time.perf_counter() - self._t0, 1)  # since training started, evaluation included
        self.points.append(point)
        print(json.dumps(point), file=sys.stderr, flush=True)


def run_curve(args: argparse.Namespace) -> dict[str, Any] | None:
    """One curve; None on DDP ranks other than 0 (Lightning's ddp launcher runs this script once per rank)."""
    from lightning.pytorch.callbacks import Callback

    from vrkit.cli.demo import official_sample_dir
    from vrkit.engine.config import to_dict
    from vrkit.engine.evaluate import answer_baselines, parse_data_spec
    from vrkit.engine.module import ReasoningTask
    from vrkit.engine.recipe import build_datamodule, load_run_config
    from vrkit.engine.run import _quiet, build_trainer
    from vrkit.models.perf import cpu_speedups
    from vrkit.utils.threads import apply_thread_policy

    policy = apply_thread_policy(args.threads)
    cpu_speedups()
    precision = args.precision or ("fp32" if args.path == "state" else "bf16")
    fams = "classification"
    sources = {"fresh": parse_data_spec([f"gen:canonical:{args.eval_n}:{args.seed + 4242}"], fams)}
    official = official_sample_dir()
    if official.is_dir() and not args.no_official:
        sources["official"] = parse_data_spec([str(official)], fams)
    _quiet()
    with tempfile.TemporaryDirectory(prefix="vrkit-curve-") as tmp:
        cfg = load_run_config(ROOT / "configs" / "cog" / f"{args.model}_cpu.yaml", [
            f"data.path={args.path}", f"data.image_size={args.pixel_size}", "data.val=null",
            f"data.families={fams}", "trainer.max_epochs=100000", "trainer.early_stopping_patience=null",
            f"trainer.max_minutes={args.minutes * 1.5 + 5}", f"trainer.precision={precision}", f"seed={args.seed}",
            f"run_dir={tmp}/run", f"trainer.devices={args.devices}",
            *(["trainer.strategy=ddp"] if args.devices > 1 else []), *args.set])
        dm = build_datamodule(cfg.data, cfg.optim, cfg.seed)
        task = ReasoningTask(to_dict(cfg))
        rec = type("Recorder", (CurveRecorder, Callback), {})(sources, args.every, cfg.data.batch_size * args.devices)
        stop = type("Budget", (Callback,), {"on_train_batch_end": lambda self, tr, *a: setattr(
            tr, "should_stop", tr.should_stop or tr.strategy.reduce_boolean_decision(
                tr.is_global_zero and rec.train_s >= args.minutes * 60, all=False))})()
        # DDP: rank 0's clock decides (the others' clocks include rank 0's evaluations) and every rank stops with it
        trainer = build_trainer(cfg, Path(tmp) / "run", callbacks=[rec, stop], logger=False)
        trainer.fit(task, datamodule=dm)
        if not trainer.is_global_zero:
            return None
        rec.record(trainer, task, families=True)
        base = answer_baselines(task, sources["fresh"])
    return {"bench": "learning_curve", "model": args.model, "path": args.path, "precision": precision,
            "image_size": args.pixel_size if args.path == "pixels" else None, "minutes": args.minutes,
            "recipe": f"configs/cog/{args.model}_cpu.yaml", "overrides": args.set,
            "batch": cfg.data.batch_size * args.devices, "devices": args.devices,
            "threads": policy["threads"], "params": sum(p.numel() for p in task.parameters()),
            "eval": {k: (v.n if v.kind == "stream" else v.paths) for k, v in sources.items()},
            "chance": round(base["acc_chance"], 4), "prior": round(base["acc_prior"], 4), "points": rec.points,
            "clock": "wall minus evaluation",
            "command": " ".join(["python", "bench/learning_curve.py", *sys.argv[1:]])}


def longest_runs() -> list[dict]:
    """Every learning_curve_*.json, keeping per curve (model, path, options) the longest run: a 5-minute run is
    the start of a 30-minute one. Each gets a ``label``."""
    longest: dict[str, dict] = {}
    for f in sorted(RESULTS.glob("learning_curve_*.json")):
        r = json.loads(f.read_text())
        pix = f" {r['precision']} {r['image_size']} px" if r["path"] == "pixels" else ""
        options = [o.split(".", 1)[-1] for o in r.get("overrides", []) if not o.startswith("data.workers")]
        ddp = f", {r['devices']} DDP processes" if r.get("devices", 1) > 1 else ""
        label = f"{r['model']} {r['path']}{pix}{ddp}" + (f" ({', '.join(options)})" if options else "")
        if label not in longest or r["minutes"] > longest[label]["minutes"]:
            longest[label] = {**r, "label": label}
    return list(longest.values())


def table() -> str:
    """The README's Markdown table: the last point of each curve of :func:`longest_runs`."""
    lines = ["| curve | parameters | training | updates × batch | fresh | official sample | prior / chance "
             "| load (1 min) |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(longest_runs(), key=lambda r: (r["model"], r["path"], r["label"])):
        p = r["points"][-1]
        official = f"{100 * p['official']:.1f} %" if "official" in p else "—"
        clock = "" if r.get("clock") else " †"
        lines.append(f"| {r['label']} | {r['params']:,} | {r['minutes']:g} min{clock} | {p['steps']:,} × {r['batch']} "
                     "| "
                     f"{100 * p['fresh']:.1f} % | {official} | {100 * r['prior']:.1f} / {100 * r['chance']:.1f} % | "
                     f"{r['machine']['load_avg_1m']} |")
    return "\n".join(lines)


def figure(out: Path) -> Path:
    """One panel against minutes, one against examples seen; every learning_curve_*.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vrkit.utils.atomic import atomic_path

    runs = longest_runs()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for r in runs:
        label = r["label"]
        xs_t = [p["train_s"] / 60 for p in r["points"]]
        xs_e = [max(p["examples"], 1) for p in r["points"]]
        ys = [100 * p["fresh"] for p in r["points"]]
        style = "-" if r["path"] == "state" else "--"
        line = axes[0].plot(xs_t, ys, style, label=label)[0]
        axes[1].plot(xs_e, ys, style, color=line.get_color())
    if runs:
        prior = max(r["prior"] for r in runs) * 100
        chance = max(r["chance"] for r in runs) * 100
        for ax in axes:
            ax.axhline(prior, color="black", lw=1, label=f"prior: most frequent answer ({prior:.1f}%)")
            ax.axhline(chance, color="grey", lw=1, ls=":", label=f"chance ({chance:.1f}%)")
    axes[0].set_xlabel("training time (minutes, evaluation excluded)")
    axes[1].set_xlabel("training examples seen")
    axes[1].set_xscale("log")
    axes[0].set_ylabel("accuracy, mean over the 23 word-answer families (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 100)
    fig.suptitle("COG canonical, fresh examples (bench/learning_curve.py)")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    from vrkit.utils.threads import add_threads_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default="samnet")
    ap.add_argument("--path", choices=("state", "pixels"), default="state")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="default: fp32 state, bf16 pixels")
    ap.add_argument("--minutes", type=float, default=30.0, help="training time (evaluation excluded)")
    ap.add_argument("--every", type=float, default=120.0, help="seconds of training between evaluations (at most)")
    ap.add_argument("--pixel-size", type=int, default=56)
    ap.add_argument("--eval-n", type=int, default=2300)
    ap.add_argument("--no-official", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--devices", type=int, default=1,
                    help="processes (DDP over gloo on CPU), each with --threads threads and data.batch_size examples")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--figure", action="store_true", help="only draw docs/img/learning_curves.png from the results")
    ap.add_argument("--table", action="store_true", help="only print the README's Markdown table of the results")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.table:
        print(table())
        return
    if not args.figure:
        res = run_curve(args)
        if res is None:  # a DDP rank other than 0
            return
        name = f"learning_curve_{args.model}_{args.path}_{res['precision']}" + (f"_{args.tag}" if args.tag else "")
        write_result(name, res)
    print(figure(ROOT / "docs" / "img" / "learning_curves.png"))


if __name__ == "__main__":
    main()
