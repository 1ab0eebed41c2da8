"""``--jobs N|auto`` of the transfer recipes and the hidden ``--only-stage NAME`` their child processes run.

With ``--jobs`` > 1 a recipe's stages whose needs are finished run side by side, each in a child process that
is this same command line again with ``--jobs 1 --seeds S --only-stage NAME --no-report`` appended (argparse
keeps the last value of a repeated option), so the child rebuilds the same stage list and runs one stage
(:mod:`vrkit.transfer.stages`). Children inherit the thread policy through ``OMP_NUM_THREADS`` (set by
:func:`vrkit.utils.threads.apply_thread_policy` in the parent) or the ``--threads`` flag they repeat.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from vrkit.cli._args import positive_int


def jobs_value(text: str) -> int | None:
    """``N`` (>= 1) or ``auto`` (None: the machine's cores, as far as the stages allow)."""
    return None if text.strip().lower() == "auto" else positive_int(text)


def add_jobs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=jobs_value, default=1, metavar="N|auto",
                   help="run up to N independent stages side by side, each in its own process (default 1; "
                        "auto: the machine's cores, as far as the stages allow; --dry-run shows which)")
    p.add_argument("--only-stage", metavar="NAME", help=argparse.SUPPRESS)  # a --jobs child: run this one stage


def child_command(args: argparse.Namespace, *fixed: str) -> Callable[[int, str], list[str]]:
    """``command(seed, stage)``: the argv of a child process running one stage of this command (``fixed``:
    options that pick one of several values, e.g. ``--model M``)."""
    base = [sys.executable, "-m", "vrkit", *args.cli_argv, *fixed]

    def command(seed: int, stage: str) -> list[str]:
        return [*base, "--jobs", "1", "--seeds", str(seed), "--only-stage", stage, "--no-report"]

    return command
