"""`vrkit transfer temporal|feature|reasoning|zeroshot|pretrain|report`: the transfer protocols end to end
(docs/transfer.md, docs/zeroshot.md, docs/ivcl.md)."""

from __future__ import annotations

import argparse
import sys
import time

from vrkit.cli._args import add_group
from vrkit.cli._jobs import add_jobs_arguments, child_command
from vrkit.cli._transfer_pretrain import add_pretrain
from vrkit.cli._transfer_zeroshot import add_zeroshot
from vrkit.utils.threads import add_threads_argument, apply_thread_policy


def _ints(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def _cmd_recipe(args: argparse.Namespace) -> int:
    from vrkit.transfer import RecipeSpec, parse_partitions, run_recipe, write_report
    from vrkit.transfer.recipes import GPU_STEP_SECONDS, plan

    threads = apply_thread_policy(args.threads)
    print(f"torch threads: {threads['threads']} ({threads['source']})", file=sys.stderr)
    from vrkit.transfer.recipes import DEFAULT_WORLD

    world = getattr(args, "world", None) or DEFAULT_WORLD[args.recipe]
    partitions = parse_partitions(getattr(args, "partition", None))
    for model in args.model:
        spec = RecipeSpec(recipe=args.recipe, model=model, scale=args.scale, seeds=args.seeds, out=args.out,
                          world=world, ft_modes=args.ft_modes, tasks=getattr(args, "tasks", None),
                          partitions=partitions, config=args.config, overrides=list(args.overrides),
                          test_n=args.test_n, ft_n=args.ft_n, ft_epochs=args.ft_epochs, ft_val_n=args.ft_val_n,
                          minutes=args.minutes)
        if args.dry_run:
            print("\n".join(plan(spec, args.gpu_step_seconds or GPU_STEP_SECONDS, args.jobs)))
            continue
        run_recipe(spec, _log, args.jobs, child_command(args, "--model", model), args.only_stage)
    if not args.no_report and not args.dry_run and not args.only_stage:
        paths = write_report([args.out])
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}", file=sys.stderr)
        print(paths["md"].read_text(encoding="utf-8"))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from vrkit.transfer import write_report

    paths = write_report(args.dirs, args.out)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}", file=sys.stderr)
    print(paths["md"].read_text(encoding="utf-8"))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=_names, required=True, help="model name(s), comma-separated (vrkit models)")
    p.add_argument("--scale", choices=("tiny", "cpu", "paper"), default="cpu",
                   help="tiny: seconds (tests); cpu: state path, ~30 min per recipe on 2 cores; paper: reference")
    p.add_argument("--seeds", type=_ints, default=[0], help="comma-separated seeds (default 0)")
    p.add_argument("--out", required=True, help="results directory (resumable: finished stages are skipped)")
    p.add_argument("--ft-modes", type=_names, default=["full"],
                   help="fine-tuning modes: full, head, flex-full, flex-fast, flex-faster (comma-separated)")
    p.add_argument("--config", help="base YAML replacing configs/<world>/<model>_<scale>.yaml")
    p.add_argument("--test-n", type=int, help="test examples per test stage")
    p.add_argument("--ft-n", type=int, help="fine-tuning examples per epoch")
    p.add_argument("--ft-epochs", type=int, help="fine-tuning epochs")
    p.add_argument("--ft-val-n", type=int, help="validation examples of fine-tuning / flex selection")
    p.add_argument("--minutes", type=float, help="wall-clock budget of the whole recipe (cpu default 30; 0 = no cap, "
                   "then runs are epoch-exact and machine-independent)")
    p.add_argument("--no-report", action="store_true", help="do not write the tables and figure")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (stages, data sizes, epochs, steps, expected GPU-hours) and exit")
    p.add_argument("--gpu-step-seconds", type=float,
                   help="seconds per training step on one GPU for the dry run's estimate (default: "
                        "recipes.GPU_STEP_SECONDS, an assumption; measure yours)")
    add_threads_argument(p)
    add_jobs_arguments(p)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. model.dim=32")


def register(sub: argparse._SubParsersAction) -> None:
    _, rs = add_group(sub, "transfer", "transfer-learning protocols (temporal, feature, reasoning) + report", "recipe",
                      "RECIPE")
    q = rs.add_parser("temporal", help="COG canonical → hard: zero-shot, 1-epoch fine-tune, train on hard")
    _common(q)
    q.set_defaults(handler=_cmd_recipe)
    q = rs.add_parser("feature", help="CLEVR-CoGenT (or COG's colour x shape split): train A, test A/B, "
                                      "fine-tune on a small B set")
    _common(q)
    q.add_argument("--world", choices=("clevr", "cog"), default="clevr",
                   help="clevr: CoGenT A/B; cog: half A/B of the colour x shape pairs (docs/world-cog.md)")
    q.set_defaults(handler=_cmd_recipe)
    q = rs.add_parser("reasoning", help="per task: only t, all, all but t (zero-shot), all but t + fine-tune")
    _common(q)
    q.add_argument("--world", choices=("cog", "clevr"), default="cog")
    q.add_argument("--tasks", type=_names, help="tasks (COG groups / CLEVR question types); default: all")
    q.add_argument("--partition", help='user partitions, e.g. "A=Basic,Compare;B=Spatial,Cognitive"')
    q.set_defaults(handler=_cmd_recipe)
    add_zeroshot(rs, _names, _ints, _log)
    add_pretrain(rs, _ints, _log)
    q = rs.add_parser("report", help="merge results directories into one CSV/Markdown table and figures")
    q.add_argument("dirs", nargs="+", help="results directories (of one or several models/recipes)")
    q.add_argument("--out", help="output directory (default: the first directory)")
    q.set_defaults(handler=_cmd_report)
