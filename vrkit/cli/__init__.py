"""The ``vrkit`` command line: a thin layer that parses, calls library functions and prints.

Each command group lives in its own module exposing ``register(subparsers)``; a command's handler
returns an exit code. Bad input (:class:`vrkit.errors.InputError`) becomes one line on stderr and
exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vrkit import __version__
from vrkit.errors import InputError, StageFailed, TrainingDiverged

# Modules registering sub-commands, in help order.
_COMMAND_MODULES = ("generate", "verify", "cog", "clevr", "cater", "show", "train", "pretrain", "demo", "models",
                    "transfer", "retrieve", "explain", "report", "convert")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrkit", description="Transfer learning in visual and relational reasoning (COG, CLEVR, SAMNet)."
    )
    parser.add_argument("--version", action="version", version=f"vrkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"vrkit.cli.{name}").register(sub)
    for group in sub.choices.values():  # a bare `vrkit GROUP` prints the group's help, not the top level's
        group.set_defaults(help_parser=group)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        (getattr(args, "help_parser", None) or parser).print_help()
        return 2
    args.cli_argv = list(sys.argv[1:] if argv is None else argv)  # what a child process re-runs (--jobs)
    try:
        return int(args.handler(args) or 0)
    except InputError as err:
        print(f"vrkit: error: {err.format()}", file=sys.stderr)
        return 2
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError) as err:
        if err.filename is None:  # not about a path the user gave
            raise
        print(f"vrkit: error: {err.filename}: cannot write ({err.strerror})", file=sys.stderr)
        return 2
    except StageFailed as err:
        print(f"vrkit: {err}", file=sys.stderr)
        return err.code
    except TrainingDiverged as err:
        print(f"vrkit: training diverged: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        hint = getattr(err, "hint", "")
        print(f"vrkit: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
