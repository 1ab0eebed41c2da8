"""Checked argparse value types, shared by every command: a bad number is refused at parse time (argparse's
one usage line, exit 2), before any work."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def _number(text: str, kind: type) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_group(sub: argparse._SubParsersAction, name: str, help: str, dest: str,
              metavar: str = "SUBCOMMAND") -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """A command that only groups sub-commands (``vrkit cog``, ``vrkit clevr`` ...): its parser and the
    sub-parsers its sub-commands register into (the chosen one is stored in ``dest``)."""
    p = sub.add_parser(name, help=help)
    return p, p.add_subparsers(dest=dest, metavar=metavar)


def add_cog_example_args(p: argparse.ArgumentParser, select: tuple[str, int, str, str], out: tuple[str, str],
                         size_help: str) -> None:
    """The arguments of commands that draw examples of one COG file: ``file``, the examples to take
    (``select`` = flag, default, metavar, help), ``--out`` (``out`` = metavar, help) and ``--size``."""
    from vrkit.worlds.cog.render import DEFAULT_SIZE

    flag, default, metavar, select_help = select
    p.add_argument("file", type=Path, help="COG file (.json.gz, .json or .jsonl)")
    p.add_argument(flag, type=int, default=default, metavar=metavar, help=select_help)
    p.add_argument("--out", type=Path, required=True, metavar=out[0], help=out[1])
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"{size_help} (default {DEFAULT_SIZE})")


def add_command(sub: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int],
                help: str, description: str) -> argparse.ArgumentParser:
    """A sub-command's parser, run by ``handler(args)`` (its exit code)."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(handler=handler)
    return p
