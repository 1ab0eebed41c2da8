"""`vrkit cog ...` commands: check (answer checker) and render (official renderer)."""

from __future__ import annotations

import argparse

from vrkit.cli import _cog_check, _cog_render


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cog", help="COG tools: check answers, render frames")
    cog_sub = p.add_subparsers(dest="cog_command", metavar="SUBCOMMAND")
    _cog_check.register(cog_sub)
    _cog_render.register(cog_sub)
