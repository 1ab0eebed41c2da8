"""`vrkit show cog FILE --index I --out X.png [--size 112]`: one COG example as a PNG strip."""

from __future__ import annotations

import argparse
import itertools

from vrkit.cli._args import add_cog_example_args, add_command
from vrkit.errors import InputError
from vrkit.worlds.cog.io import iter_file


def register(show_sub: argparse._SubParsersAction) -> None:
    p = add_command(
        show_sub, "cog", run,
        help="a COG example: frames, question, per-frame answers",
        description="Draw one example of a COG file as a PNG: its frames side by side, the family and question "
        "above, each frame's answer below (points are marked on the frame).",
    )
    add_cog_example_args(p, ("--index", 0, "I", "0-based example index in FILE (default 0)"),
                         ("X.png", "output PNG"), "render size in pixels")


def run(args: argparse.Namespace) -> int:
    if args.index < 0:
        raise InputError(f"--index must be >= 0, got {args.index}")
    from vrkit.worlds.cog.render import check_size

    check_size(args.size)
    from vrkit.utils.files import check_output_file

    check_output_file(args.out)  # before any work
    found = list(itertools.islice(iter_file(args.file), args.index, args.index + 1))
    if not found:
        n = sum(1 for _ in iter_file(args.file))
        raise InputError(f"--index {args.index} out of range: the file holds {n} examples", args.file)
    from vrkit.viz.cog_show import save_cog_strip  # matplotlib is imported only when needed

    ex = found[0]
    save_cog_strip(ex, args.out, args.size)
    print(f"wrote {args.out}: {ex['family']} example {args.index} of {args.file} ({ex['epochs']} frames)")
    return 0
