"""`vrkit show WORLD ...`: draw samples as PNG.

Each world's sub-command lives in its own module under vrkit.cli with a function taking the sub-parsers
of ``show``; adding a world is one entry in ``_SHOW_COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib

from vrkit.cli._args import add_group

# (module under vrkit.cli, its registration function), in help order.
# CLEVR: add ("_show_clevr", "register_clevr") once that module is ready.
_SHOW_COMMANDS: tuple[tuple[str, str], ...] = (
    ("_show_cog", "register"),
    ("_show_clevr", "register_clevr"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p, show_sub = add_group(sub, "show", "draw samples (frames, question, answers) as PNG", "show_command", "WORLD")
    for module, func in _SHOW_COMMANDS:
        getattr(importlib.import_module(f"vrkit.cli.{module}"), func)(show_sub)

    def _usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=_usage)
