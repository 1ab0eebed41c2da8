"""`vrkit cog ...` commands: check (answer checker) and render (official renderer)."""

from __future__ import annotations

import argparse

from vrkit.cli import _cog_check, _cog_render
from vrkit.cli._args import add_group


def register(sub: argparse._SubParsersAction) -> None:
    _, cog_sub = add_group(sub, "cog", "COG tools: check answers, render frames", "cog_command")
    _cog_check.register(cog_sub)
    _cog_render.register(cog_sub)
