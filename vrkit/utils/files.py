"""Reading user files with one-line, located errors (:class:`vrkit.errors.InputError`)."""

from __future__ import annotations

import gzip
import json
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
