"""Reading user files with one-line, located errors (:class:`vrkit.errors.InputError`); checking output paths
before the work that fills them."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path
from typing import Any

from vrkit.errors import InputError


def read_maybe_gzip(path: str | Path) -> bytes:
    """The whole content of ``path``, decompressed if its name ends in ``.gz``."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise InputError(f"corrupt or truncated gzip ({err})", path) from None


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing file or bad JSON names the file (and the line of a syntax error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} not found", path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {what}: {err}", path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg} (column {err.colno})", path, err.lineno) from None


def _writable_ancestor(path: Path) -> None:
    """InputError unless the nearest existing ancestor of ``path`` is a writable directory."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{probe} is not a directory", path)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write here: {probe} is read-only", path)


def check_output_file(path: str | Path) -> Path:
    """Check before any work that ``path`` can be written as a file (InputError naming it otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, expected a file", path)
    _writable_ancestor(path.parent)
    return path


def check_output_dir(path: str | Path) -> Path:
    """Check before any work that ``path`` can be (created and) written as a directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a directory", path)
    _writable_ancestor(path)
    return path
