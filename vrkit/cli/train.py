"""`vrkit train`, `vrkit eval` and `vrkit predict`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from vrkit.cli._args import positive_int
from vrkit.errors import InputError
from vrkit.utils.files import check_output_file
from vrkit.utils.threads import add_threads_argument, apply_thread_policy


def _cmd_train(args: argparse.Namespace) -> int:
    threads = apply_thread_policy(args.threads)  # first: DDP ranks and data workers inherit it (utils/threads.py)
    from vrkit.configs import resolve_recipe
    from vrkit.engine.config import dump_yaml
    from vrkit.engine.recipe import load_run_config, resume_run_config

    config = None if args.config is None else resolve_recipe(args.config)  # the shipped recipes outside a checkout
    overrides = list(args.overrides)
    for flag, key in (("devices", "trainer.devices"), ("strategy", "trainer.strategy"),
                      ("accelerator", "trainer.accelerator"), ("num_nodes", "trainer.num_nodes")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    if args.run_dir is not None:
        overrides.append(f"run_dir={args.run_dir}")
    if args.resume:  # the run's saved config; only budget changes are allowed (and listed)
        cfg, changes = resume_run_config(config, overrides)
        for key, (old, new) in changes.items():
            print(f"resume: {key} {old} -> {new}", file=sys.stderr)
    else:
        cfg = load_run_config(config, overrides)
    if args.print_config:
        print(dump_yaml(cfg), end="")
        return 0
    from vrkit.engine.evaluate import format_table
    from vrkit.engine.run import train
    from vrkit.models.perf import keep_heap_memory

    if cfg.trainer.accelerator in ("cpu", "auto"):
        keep_heap_memory()  # a training process: stop glibc re-zeroing ~150 MB of activations every step
    result = train(cfg, resume=args.resume)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return 0
    if "val" in result:
        from vrkit.engine.recipe import datamodule_class

        print(format_table(result["val"], datamodule_class(cfg.data.world).GROUPS))
    print(f"run: {result['run_dir']}  epochs: {result['epochs']}  steps: {result['steps']}  "
          f"threads: {threads['threads']} ({threads['source']})")
    return 0


def _data_name(spec: list[str]) -> str:
    name = spec[0].rstrip("/").split("/")[-1] if spec else "data"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _cmd_eval(args: argparse.Namespace) -> int:
    from vrkit.engine.evaluate import describe_origin, evaluate, format_table, load_task, parse_data_spec, write_eval

    apply_thread_policy(args.threads)
    prefix = Path(args.out or (Path(args.ckpt).resolve().parent.parent / "eval" / f"{Path(args.ckpt).stem}_"
                               f"{_data_name(args.data)}"))
    for suffix in (".json", ".csv"):  # before the work, not after it
        check_output_file(prefix.with_name(prefix.name + suffix))
    task = load_task(args.ckpt)
    if (origin := describe_origin(task)) is not None:
        print(origin)
    source = parse_data_spec(args.data, args.families)
    summary = evaluate(task, source, args.batch_size, args.precision)
    if summary["examples"] == 0:
        raise InputError(f"no examples to evaluate in {' '.join(args.data)}")
    summary.update({"checkpoint": str(args.ckpt), "data": list(args.data), "seed": task.cfg.seed})
    print(format_table(summary, task.groups))
    js, cs = write_eval(summary, prefix)
    print(f"wrote {cs} and {js}  ({summary['examples']} examples)", file=sys.stderr)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from vrkit.engine.evaluate import load_task, parse_data_spec, predict

    apply_thread_policy(args.threads)
    check_output_file(args.out)
    task = load_task(args.ckpt)
    n = predict(task, parse_data_spec(args.data, args.families), args.out, args.batch_size, logits=args.logits)
    print(json.dumps({"examples": n, "out": str(args.out)}))
    return 0


def _families(value: str) -> str | list[str]:
    return value.split(",") if "," in value else value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from a YAML recipe (+ key.sub=value overrides)")
    p.add_argument("--config", "-c", help="YAML recipe: a file, or a shipped recipe such as "
                   "configs/cog/samnet_cpu.yaml (found inside the installed package too); defaults if omitted")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. model.dim=64")
    p.add_argument("--resume", action="store_true",
                   help="continue from <run_dir>/checkpoints/last.ckpt with the run's saved config.yaml (only "
                        "budgets such as trainer.max_epochs/max_minutes may be overridden)")
    p.add_argument("--run-dir", help="run directory (default: config run_dir or runs/<config name>)")
    p.add_argument("--devices", type=int, help="devices per node (trainer.devices)")
    p.add_argument("--strategy", help="auto | ddp | ddp_spawn | fsdp ... (trainer.strategy)")
    p.add_argument("--accelerator", help="cpu | gpu | auto (trainer.accelerator)")
    p.add_argument("--num-nodes", type=int, dest="num_nodes", help="nodes (trainer.num_nodes)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    add_threads_argument(p)
    p.set_defaults(handler=_cmd_train)

    for name, fn, helptext in (("eval", _cmd_eval, "accuracy of a checkpoint per family/group"),
                               ("predict", _cmd_predict, "per-example predictions of a checkpoint (JSON lines)")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--ckpt", required=True, help="checkpoint (.ckpt) written by vrkit train")
        q.add_argument("--data", required=True, nargs="+",
                       help="official COG files/directories, or gen:VARIANT:N[:SEED] for generated examples")
        q.add_argument("--families", type=_families, help="family names/groups (comma-separated) to keep")
        q.add_argument("--batch-size", type=positive_int, default=None)
        if name == "eval":
            q.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
            q.add_argument("--out", help="output prefix for .csv/.json (default <run>/eval/<ckpt>_<data>)")
        else:
            q.add_argument("--out", required=True, help="output .jsonl")
            q.add_argument("--logits", action="store_true",
                           help="add each frame's {answer word: logit} map to every row")
        add_threads_argument(q)
        q.set_defaults(handler=fn)
