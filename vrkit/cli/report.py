"""`vrkit report`: one self-contained HTML page with the tables and figures of result directories."""

from __future__ import annotations

import argparse
import sys


def _cmd_report(args: argparse.Namespace) -> int:
    from vrkit.viz.report import write_report

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    res = write_report(args.dirs, args.out, args.explain_ckpt, args.explain_data, args.explain_n, args.title, log)
    print(f"wrote {res.path}  ({res.sections} section(s), {res.tables} table(s), {res.images} image(s))")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page with every table and figure of run dirs")
    p.add_argument("dirs", nargs="+", metavar="RUN_DIR",
                   help="transfer results, training runs, eval JSON, bench/results ... (directories or files)")
    p.add_argument("--out", required=True, help="output HTML file")
    p.add_argument("--title", default="vrkit report", help="page title")
    p.add_argument("--explain-ckpt", help="add explain panels of this samnet checkpoint")
    p.add_argument("--explain-data", nargs="+", help="data for the explain panels (paths or gen:VARIANT:N[:SEED])")
    p.add_argument("--explain-n", type=int, default=3, help="number of examples to explain (default 3)")
    p.set_defaults(handler=_cmd_report)
