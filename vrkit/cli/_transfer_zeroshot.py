"""`vrkit transfer zeroshot`: zero-shot task transfer (TTNet) over the COG families (docs/zeroshot.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from vrkit.utils.threads import add_threads_argument, apply_thread_policy


def _cmd(args: argparse.Namespace) -> int:
    from vrkit.transfer.zeroshot import ZeroShotSpec, plan, run_zeroshot
    from vrkit.transfer.zeroshot_report import write_zeroshot_report

    threads = apply_thread_policy(args.threads)
    print(f"torch threads: {threads['threads']} ({threads['source']})", file=sys.stderr)
    for model in args.model:
        spec = ZeroShotSpec(model=model, scale=args.scale, seeds=args.seeds, out=Path(args.out),
                            heldout=args.heldout, gamma=args.gamma, ratings=args.ratings,
                            gamma_file=args.gamma_file, config=args.config, overrides=list(args.overrides),
                            test_n=args.test_n, minutes=args.minutes)
        if args.dry_run:
            print("\n".join(plan(spec)))
            continue
        run_zeroshot(spec, args.log)
    if not args.no_report and not args.dry_run:
        paths = write_zeroshot_report([args.out], args.report_out)
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}", file=sys.stderr)
        print(paths["zeroshot"].read_text(encoding="utf-8"))
    return 0


def add_zeroshot(recipes: argparse._SubParsersAction, names: Callable[[str], list[str]],
                 ints: Callable[[str], list[int]], log: Callable[[str], None]) -> None:
    """Register ``zeroshot`` under ``vrkit transfer`` (``names``/``ints``: the transfer command's list types)."""
    q = recipes.add_parser("zeroshot", help="zero-shot task transfer (TTNet): build held-out families' heads "
                                            "from the known ones and Γ")
    q.add_argument("--model", type=names, default=["samnet"], help="backbone model(s) (default samnet)")
    q.add_argument("--scale", choices=("tiny", "cpu", "paper"), default="cpu",
                   help="tiny: seconds (tests); cpu: state path, ~17 min on one core; paper: reference sizes")
    q.add_argument("--seeds", type=ints, default=[0], help="comma-separated seeds (default 0)")
    q.add_argument("--out", required=True, help="results directory (resumable: finished stages are skipped)")
    q.add_argument("--heldout", type=names, help="held-out COG classification families (default: one per group)")
    q.add_argument("--gamma", choices=("structure", "affinity", "ratings", "file"), default="structure",
                   help="main Γ (nearest task, Γ-average, k-shot, sources curve); every available Γ gets a TTNet")
    q.add_argument("--ratings", help="ratings YAML (raters' −1…+2 votes on family pairs; Dawid–Skene)")
    q.add_argument("--gamma-file", help="Γ YAML {families: [...], matrix: [[...]]} on the −1…+2 scale")
    q.add_argument("--config", help="base YAML replacing configs/cog/<model>_<scale>.yaml")
    q.add_argument("--test-n", type=int, help="test examples per held-out family")
    q.add_argument("--minutes", type=float, help="backbone training budget in minutes")
    q.add_argument("--no-report", action="store_true", help="do not write the tables and figures")
    q.add_argument("--report-out", help="write the tables and figures here (default: --out), e.g. "
                                        "docs/results/zeroshot after a finished run")
    q.add_argument("--dry-run", action="store_true", help="list the stages and exit")
    add_threads_argument(q)
    q.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. model.dim=32")
    q.set_defaults(handler=_cmd, log=log)
