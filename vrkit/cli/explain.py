"""`vrkit explain`: a picture (PNG) and, for sequences, an animated GIF of SAMNet's reasoning on one example."""

from __future__ import annotations

import argparse
import sys

from vrkit.cli._args import positive_int


def _cmd_explain(args: argparse.Namespace) -> int:
    from vrkit.viz.explain import explain

    families = args.families.split(",") if args.families and "," in args.families else args.families
    res = explain(args.ckpt, args.data, args.index, args.out, args.frames, families, args.dpi)
    e = res.explanation
    for t in range(e.frames):
        verdict = {True: "correct", False: "wrong", None: "-"}[e.correct[t]]
        print(f"frame {t}: predicted {e.pred[t]:<14} target {e.target[t]:<14} {verdict}")
    written = [res.png] + ([res.gif] if res.gif else []) + [res.json]
    print(f"{e.family}: {e.question}", file=sys.stderr)
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="PNG/GIF of SAMNet's reasoning (attention, gates, memory) on one example")
    p.add_argument("--ckpt", required=True, help="checkpoint (.ckpt) of a samnet run")
    p.add_argument("--data", required=True, nargs="+",
                   help="official files/directories, or gen:VARIANT:N[:SEED] (as for vrkit eval)")
    p.add_argument("--index", type=int, required=True, help="example index in the data (negative: from the end)")
    p.add_argument("--out", help="output prefix: PREFIX.png, PREFIX.gif (sequences), PREFIX.json "
                                 "(default <run>/explain/<ckpt>_<data>_<index>)")
    p.add_argument("--frames", default=None,
                   help="frames in the PNG: 'all', 'last' or comma-separated indices (default: the frames with "
                        "a target)")
    p.add_argument("--families", help="family names/groups (comma-separated) to keep before indexing")
    p.add_argument("--dpi", type=positive_int, default=80, help="resolution of the figures (default 80)")
    p.set_defaults(handler=_cmd_explain)
