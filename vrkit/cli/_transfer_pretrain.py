"""`vrkit transfer pretrain`: snitch localisation fine-tuned from IV-CL and the other initialisations (docs/ivcl.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from vrkit.cli._jobs import add_jobs_arguments, child_command
from vrkit.utils.threads import add_threads_argument, apply_thread_policy


def _cmd(args: argparse.Namespace) -> int:
    from vrkit.transfer.pretrain import PretrainSpec, plan, run_pretrain_recipe
    from vrkit.transfer.pretrain_report import write_pretrain_report

    spec = PretrainSpec(scale=args.scale, seeds=args.seeds, out=Path(args.out), minutes=args.minutes,
                        cog=not args.no_cog, pool_epochs=args.pool_epochs)
    if args.dry_run:
        print("\n".join(plan(spec, args.jobs)))
        return 0
    threads = apply_thread_policy(args.threads)
    print(f"torch threads: {threads['threads']} ({threads['source']})", file=sys.stderr)
    run_pretrain_recipe(spec, args.log, args.jobs, child_command(args), args.only_stage)
    if not args.no_report and not args.only_stage:
        paths = write_pretrain_report([args.out])
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}", file=sys.stderr)
        print(paths["pretrain"].read_text(encoding="utf-8"))
    return 0


def add_pretrain(recipes: argparse._SubParsersAction, ints: Callable[[str], list[int]],
                 log: Callable[[str], None]) -> None:
    """Register ``pretrain`` under ``vrkit transfer`` (``ints``: the transfer command's list type)."""
    q = recipes.add_parser("pretrain", help="CATER snitch localisation from IV-CL, supervised, random and scratch "
                                            "initialisations (same budget), state path, linear probes")
    q.add_argument("--scale", choices=("tiny", "cpu", "paper"), default="cpu",
                   help="tiny: seconds (tests); cpu: 20 min per pretraining, 15 min per fine-tuning on 2 cores; "
                        "paper: ViT-B sizes")
    q.add_argument("--seeds", type=ints, default=[0], help="comma-separated seeds (default 0)")
    q.add_argument("--out", required=True, help="results directory (resumable: finished stages are skipped)")
    q.add_argument("--minutes", type=float, help="budget of each pretraining in minutes (0 = no cap)")
    q.add_argument("--no-cog", action="store_true", help="skip the COG group (pretraining on COG condition-A "
                                                          "videos, question answering tested on A and B)")
    q.add_argument("--pool-epochs", type=int, metavar="P",
                   help="epochs of pretraining videos generated per seed by a pool stage before the pretrainings "
                        "(<out>/ivcl/seed<s>/video_pool/, ~201 MB per 1,024 videos at cpu scale); epoch e of each "
                        "CATER pretraining reads pool epoch e mod P. Default: the scale's (tiny 1, cpu 8, paper 0); "
                        "0 = fresh videos every epoch, generated inside each pretraining's budget (docs/ivcl.md)")
    q.add_argument("--no-report", action="store_true", help="do not write the tables and figures")
    q.add_argument("--dry-run", action="store_true", help="print the plan (stages, videos, steps, budgets) and exit")
    add_threads_argument(q)
    add_jobs_arguments(q)
    q.set_defaults(handler=_cmd, log=log)
